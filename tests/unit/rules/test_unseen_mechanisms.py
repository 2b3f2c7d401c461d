"""Mechanisms found missing on the blind set blind-2026-12c (measured first, then fixed as mechanisms, not as
scenarios): a process whose runtime reports a deadlock of its own threads, a host port taken on the node, a change
proven in all but a human's decision, warning and 429 lines in the inventory, overlapping CronJob runs, and which
pods' logs are read when nothing stands out. On hand-built objects; each case names what fails without it."""

from __future__ import annotations

from aof_airflow.agent.rules import actions as ax
from aof_airflow.agent.rules import detectors as det
from aof_airflow.agent.rules import facts as F
from aof_airflow.agent.rules.diagnose import diagnose
from aof_airflow.agent.rules.gather import Gatherer
from aof_airflow.agent.rules.inventory import inventory
from aof_airflow.agent.rules.pod_reads import LOG_CALLS

from .test_actions import at, deployment, event, obs, pod, undo_base
from .test_actions import stateful_release as as_statefulset

JVM = ('2026-03-01T11:40:00Z WARN [deadlock-watch] Found one Java-level deadlock: "refresh-1" waiting to lock <0x1> '
       'which is held by "http-nio-8080-exec-3"; "http-nio-8080-exec-3" waiting to lock <0x2> which is held by "refresh-1"')


def _serving(n: int = 2):
    d = deployment(replicas=n, ready=n)
    return obs(deployment=d, target=d, pods=[pod(f"api-{i}", started=at(100)) for i in range(n)])


def test_a_deadlock_in_every_pod_proves_a_restart_and_a_database_deadlock_does_not() -> None:
    o = _serving()
    o.logs = {f"api-{i}/api": f"2026-03-01T11:00:00Z INFO started\n{JVM}" for i in range(2)}
    assert F.deadlock_in_every_pod(o)
    f = det.detect_deadlocked(o)
    assert f is not None and f.cls == "process-deadlocked" and f.action == "rollout-restart"
    d = diagnose(o)
    assert d.action == "rollout-restart" and d.output["requires_approval"] is False, d.decision.why
    assert any("error line" in a.text for a in inventory(o))  # "deadlock" is an error whatever the level says
    # PostgreSQL's "deadlock detected" aborts one transaction; both processes go on: no restart
    o.logs = {f"api-{i}/api": "2026-03-01T11:40:00Z ERROR: deadlock detected DETAIL: Process 12 waits for ShareLock"
              for i in range(2)}
    assert not F.deadlocked(o) and det.detect_deadlocked(o) is None
    assert "grows-with-uptime-or-stalled" in dict(ax.verdict("rollout-restart", o).unproven)


def test_a_deadlock_in_one_pod_of_several_deletes_that_pod() -> None:
    o = _serving(3)
    o.logs = {"api-0/api": JVM, "api-1/api": "2026-03-01T11:59:00Z INFO GET /x 200", "api-2/api": "2026-03-01T11:59:00Z INFO ok"}
    assert F.deadlock_in_every_pod(o) is None
    assert [n for n, _ in F.stuck_pods(o)] == ["api-0"]
    f = det.detect_deadlocked(o)
    assert f.action == "delete-pod" and f.command == "kubectl delete pod api-0 -n shop"
    assert diagnose(o).action == "delete-pod"


def test_a_host_port_taken_is_named_and_an_undo_that_changed_ports_is_not_forbidden() -> None:
    o = undo_base()
    msg = ("0/3 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, 2 node(s) didn't "
           "match Pod's node affinity/selector.")
    o.pods = [pod("api-new-1", phase="Pending"), pod("api-old-1", owner="api-old")]
    o.pods[0]["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "message": msg}]}
    o.pods[0]["spec"]["containers"][0]["ports"] = [{"containerPort": 9100, "hostPort": 9100}]
    o.events.append(event("api-new-1", "FailedScheduling", msg))
    f = det.detect_pending(o)
    assert f.cls == "pending-host-port" and "9100/TCP" in f.summary
    assert "scheduling-fails" in dict(ax.verdict("rollout-undo", o).contra)  # the revision changed only the image
    o.replicasets[0]["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 9100, "hostPort": 9100}]
    assert "scheduling-fails" not in dict(ax.verdict("rollout-undo", o).contra), ax.verdict("rollout-undo", o).summary()


def test_a_change_proven_but_for_a_humans_decision_is_proposed_behind_approval() -> None:
    o = undo_base()
    as_statefulset(o)
    v = ax.verdict("rollout-undo", o)
    assert v.only_a_human_missing and [n for n, _ in v.unproven] == ["no-state-at-stake"]
    d = ax.decide(o, "none")
    assert d.action == "rollout-undo" and not d.proven and d.command == "kubectl rollout undo statefulset/api -n shop"
    o.events.append(event("api-new", "FailedCreate", 'Error creating: admission webhook "p" denied the request', kind="ReplicaSet"))
    assert ax.decide(o, "none").action != "rollout-undo"  # something forbids it: not even behind approval


def test_warning_lines_and_429s_are_anomalies_not_nothing_wrong() -> None:
    o = _serving()
    o.logs = {"api-0/api": '{"ts":"2026-03-01T11:59:00Z","level":"warning","event":"upstream call","dns_ms":5003}',
              "api-1/api": "2026-03-01T11:59:00Z INFO ok"}
    assert [a.text.split(",")[0] for a in inventory(o)] == ["1 warning line(s) of 1 read in the log of api"]
    assert diagnose(o).cls != "no-fault-found"
    o.logs = {"api-0/api": '[2026-03-01T11:59:00Z] "GET /v1/stream HTTP/1.1" 429 RL 0 18 1 - "10.0.0.1"',
              "api-1/api": "2026-03-01T11:59:00Z INFO warned nobody"}
    assert [a.text.split(",")[0] for a in inventory(o)] == ["1 error line(s) of 1 read in the log of api"]


def test_cronjob_runs_active_at_once_are_an_anomaly() -> None:
    jobs = [{"metadata": {"name": f"sync-{i}"}, "status": {"active": 1, "startTime": at(0.1 * i)}} for i in range(3)]
    cj = {"kind": "CronJob", "metadata": {"name": "sync"}, "spec": {"schedule": "*/10 * * * *"}}
    o = obs(kind="cronjob", name="sync", target=cj, job=jobs[-1], jobs=jobs)
    found = [a for a in inventory(o) if a.subject == "cronjob/sync"]
    assert [a.text.split(" (")[0] for a in found] == ["3 runs active at once"] and "concurrencyPolicy Allow" in found[0].text
    assert found[0].impact
    o.jobs = jobs[:1]
    assert not [a for a in inventory(o) if a.subject == "cronjob/sync"]


def test_when_nothing_stands_out_every_pods_log_is_read_one_container_per_pod_first() -> None:
    pods = [pod(f"api-{i}", started=at(100)) for i in range(4)]
    for p in pods:
        p["status"]["containerStatuses"].append(dict(p["status"]["containerStatuses"][0], name="envoy"))
    keys = [k for k, _ in Gatherer(None, "shop")._log_commands(obs(pods=pods))]  # type: ignore[arg-type]
    assert len(keys) == LOG_CALLS
    assert keys[:4] == ["api-0/api", "api-1/api", "api-2/api", "api-3/api"]  # the odd replica is never left unread


def test_a_local_traffic_policy_with_nodes_left_without_an_endpoint_is_an_anomaly() -> None:
    from .test_actions import node

    o = _serving()
    o.nodes = [node("n1"), node("n2"), node("n3", ready=False)]
    svc = {"metadata": {"name": "api"}, "spec": {"selector": {"app": "api"}, "ports": [{"port": 80, "targetPort": 8080}],
                                                 "internalTrafficPolicy": "Local"}}
    o.services = [svc]
    o.endpoints_of = {"api": {"subsets": [{"addresses": [{"nodeName": "n1", "targetRef": {"name": "api-0"}},
                                                         {"nodeName": "n1", "targetRef": {"name": "api-1"}}]}]}}
    found = [a for a in inventory(o) if a.subject == "service/api"]
    assert [a.text.split(":")[0] for a in found] == ["internalTrafficPolicy Local with ready endpoints on 1 of 2 Ready node(s)"]
    assert "clients on n2 get no endpoint" in found[0].text and found[0].impact  # n3 is not Ready: not listed
    svc["spec"]["internalTrafficPolicy"] = "Cluster"
    assert not [a for a in inventory(o) if a.subject == "service/api"]
