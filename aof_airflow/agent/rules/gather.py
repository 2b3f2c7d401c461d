"""kubectl -> Observation: what to read for an incident -- the named object of any kind, what it depends on
(Services and Endpoints in front, HPAs, PDBs, quotas, the nodes, admission webhooks when pods are refused,
IngressClasses for an Ingress), its pods, revisions, events, usage and logs -- and the metrics history.

WHY a separate layer: detectors are pure functions over dicts (unit-testable without a cluster); only this
module (through `reads.Reader`) talks to the cluster, through `toolbox.shell(...)`, the same guarded Shell tool
(namespace scope, read-only verbs for the diagnostic agent, output truncation) an LLM agent gets. What could
not be read is recorded in `Observation.not_read`, never reported as fine. Nothing here mutates.
"""

from __future__ import annotations

import re
import shlex
import time
from typing import TYPE_CHECKING, Any

from .objects import KINDS, Observation, config_refs, has_limits, owned_by, parse_resource, pod_ready, selector_matches
from .reads import Reader, Shell, _existence, _json_list, _strip_marker, event_rows

if TYPE_CHECKING:
    from concurrent.futures import Future

    from aof_airflow.services.metrics_history import HistorySource, WorkloadHistory

__all__ = ["Gatherer", "Observation", "KINDS", "Shell", "parse_resource", "selector_matches", "event_rows", "config_refs"]

LOG_TAIL = 20
LOG_CALLS = 6  # log reads per diagnosis
QUIET_LOGS = 2  # current logs of Ready, never-restarted containers read when nothing else looks wrong
# Log lines of a failing network path: the NetworkPolicies and Services of the namespace are then read.
NETWORK_ERRORS = re.compile(
    r"no such host|EAI_AGAIN|ENOTFOUND|temporary failure in name resolution|dial (?:tcp|udp) [^ ]+: i/o timeout"
    r"|i/o timeout|connection timed out|timed out|ETIMEDOUT|timeout", re.I)
class Gatherer(Reader):
    """Decides which read-only kubectl commands to run for one incident and fills an Observation.

    WHY in rounds: every kubectl call is a process start plus a TLS handshake (0.1-0.3 s). Commands that do
    not depend on each other's answers run at the same time (`Reader._round`), so a diagnosis waits for three
    rounds of calls (the target with what it depends on; its pods, ReplicaSets and usage; logs, claims,
    config references) instead of the sum of twenty. A read that needs one answer starts when that answer
    is in, not when its whole round is (`Reader.prefetch`): a workload's pods after the target, their logs
    after the pods; so a diagnosis waits for the longest chain of reads, not for the sum of the rounds."""

    def __init__(self, toolbox: Shell, namespace: str, *, log_tail: int = LOG_TAIL, logs: bool = True,
                 history: HistorySource | None = None, deadline: float | None = None) -> None:
        """logs=False: state only (objects, events, metrics). Logs name a cause more precisely; whether a
        fault is there, and where, is read from the objects (the check just before a change).
        history: a metrics history source (`history.history_source()` when not given); its verdicts feed the
        action preconditions. Without one, "metrics history" is listed as not examined."""
        super().__init__(toolbox, namespace)
        self.history = history
        self.deadline = deadline
        self.log_tail = log_tail
        self.read_logs = logs

    # -- the plan ----------------------------------------------------------------------------------------------
    def gather(self, kind: str, name: str | None) -> Observation:
        t0 = time.monotonic()
        obs = Observation(namespace=self.ns, kind=kind, name=name)
        if kind not in KINDS:
            return obs  # a kind this engine does not read: nothing gathered, reported as not examined
        try:
            self._plan(obs, kind, name)
        finally:
            self.settle(obs)
            obs.seconds = time.monotonic() - t0
        return obs

    # The namespace's objects a workload depends on, read with the target in its first round: none of these
    # answers depends on another. A kind the server does not serve, or RBAC refuses, is "not examined".
    CONTEXT = (("services", "services"), ("endpoints", "endpoints"), ("hpas", "horizontalpodautoscalers"),
               ("pdbs", "poddisruptionbudgets"), ("quotas", "resourcequotas"), ("networkpolicies", "networkpolicies"))
    TARGETS = {"deployment": "deployment", "statefulset": "statefulset", "daemonset": "daemonset", "job": "job",
               "cronjob": "cronjob", "pod": "pod", "service": "service", "ingress": "ingress",
               "horizontalpodautoscaler": "horizontalpodautoscaler", "poddisruptionbudget": "poddisruptionbudget",
               "persistentvolumeclaim": "persistentvolumeclaim"}

    def _plan(self, obs: Observation, kind: str, name: str | None) -> None:
        q = shlex.quote(name) if name else ""
        ns = f"-n {shlex.quote(self.ns)}"
        first = [f"kubectl get {self.TARGETS[kind]} {q} {ns} -o jsonpath={{@}}"] if kind in self.TARGETS else []
        if kind in ("cronjob", "job"):  # a schedule's history: how long its earlier Jobs took
            first.append(f"kubectl get jobs {ns} -o jsonpath={{@}}")
        if kind == "namespace" and name:
            first.append(f"kubectl get namespace {q} -o jsonpath={{@}}")
        if kind == "ingress":
            first.append("kubectl get ingressclasses -o jsonpath={@}")
        # the namespace's context in one kubectl process (a List of mixed kinds); per kind only when that fails
        # (a kind the server does not serve, a refusal) or is cut by the output limit
        combined = f"kubectl get {','.join(res for _, res in self.CONTEXT)} {ns} -o jsonpath={{@}}"
        commands = first + [combined, self._events_command(), self._nodes_command()]
        self.prefetch(commands)
        if kind in self.WORKLOADS and first:
            self._prefetch_workload(obs, kind, self.peek(first[0]))  # its pods need only the target's selector
        calls = self._round(obs, commands)
        answers = [self._answer(obs, c.split()[2] + (" " + q if i == 0 and q else ""), self._checked(obs, c, call), listing=i > 0)
                   for i, (c, call) in enumerate(zip(commands[:len(first)], calls[:len(first)]))]
        target = answers[0] if first else None
        both = self._parse(calls[len(first)]) if getattr(calls[len(first)], "ok", False) else None
        if both is not None:
            kinds = {"Service": "services", "Endpoints": "endpoints", "HorizontalPodAutoscaler": "hpas",
                     "PodDisruptionBudget": "pdbs", "ResourceQuota": "quotas", "NetworkPolicy": "networkpolicies"}
            grouped: dict[str, list[dict[str, Any]]] = {f: [] for f, _ in self.CONTEXT}
            for item in both.get("items", []):
                if item.get("kind") in kinds:
                    grouped[kinds[item["kind"]]].append(item)
            self._set_context(obs, {f: {"items": items} for f, items in grouped.items()})
        else:
            context = [f"kubectl get {res} {ns} -o jsonpath={{@}}" for _, res in self.CONTEXT]
            answers_ = [self._optional(obs, res, c, call) for (_, res), c, call in
                        zip(self.CONTEXT, context, self._round(obs, context))]
            self._set_context(obs, {f: a for (f, _), a in zip(self.CONTEXT, answers_)})
        early = {"events": calls[-2]}
        self._absorb_nodes(obs, calls[-1])

        selector: dict[str, Any] | None = None
        obs.target = target
        if kind == "horizontalpodautoscaler" and target:
            ref = target.get("spec", {}).get("scaleTargetRef") or {}
            obs.kind, kind = kind, (ref.get("kind") or "").lower()
            target = self.get_json(obs, f"{kind} {shlex.quote(ref.get('name', ''))}") if kind in ("deployment", "statefulset") else None
        if kind == "deployment" and target:
            obs.deployment = target
        elif kind == "statefulset" and target:
            obs.statefulset = target
        elif kind == "daemonset" and target:
            obs.daemonset = target
        elif kind == "service" and target:
            obs.service, obs.endpoints = target, obs.endpoints_of.get(name or "")
            selector = target.get("spec", {}).get("selector") or None
        elif kind == "job":
            obs.job = target
            owner = next((o.get("name") for o in (target or {}).get("metadata", {}).get("ownerReferences") or []
                          if o.get("kind") == "CronJob"), None)
            if owner:
                owned = [j for j in (answers[1] or {}).get("items", []) if owned_by(j, "CronJob", owner, None)]
                obs.jobs = sorted(owned, key=lambda j: j["metadata"].get("creationTimestamp") or "")
        elif kind == "cronjob" and target:
            owned = [j for j in (answers[1] or {}).get("items", []) if owned_by(j, "CronJob", name or "", None)]
            obs.jobs = sorted(owned, key=lambda j: j["metadata"].get("creationTimestamp") or "")
            obs.job = obs.jobs[-1] if obs.jobs else None
        elif kind == "pod" and target:
            obs.pods = [target]
        elif kind == "namespace" and name:
            obs.target = target = answers[-1]
        elif kind == "persistentvolumeclaim" and target:
            obs.pvcs = [target]
        elif kind == "poddisruptionbudget" and target:
            selector = target.get("spec", {}).get("selector")
        elif kind == "ingress" and target:
            data = self._optional(obs, "IngressClasses", first[1], calls[1])
            obs.ingressclasses = None if data is None else data.get("items", [])
            if data is None:
                obs.unread_dependencies.append(f"IngressClasses ({obs.not_read['IngressClasses']})")
            backends = {p.get("backend", {}).get("service", {}).get("name") for r in target.get("spec", {}).get("rules") or []
                        for p in (r.get("http") or {}).get("paths") or []}
            backends.add(((target.get("spec", {}).get("defaultBackend") or {}).get("service") or {}).get("name"))
            obs.services = [s for s in obs.services or [] if s["metadata"]["name"] in backends]
        elif kind == "node" and name:
            obs.target = next((n for n in obs.nodes or [] if n["metadata"]["name"] == name), None)
            obs.pods = [p for p in self.list_items(obs, "pods") if p.get("spec", {}).get("nodeName") == name]
        workload = obs.deployment or obs.statefulset or obs.daemonset
        if workload is not None:
            selector = workload.get("spec", {}).get("selector")
        elif obs.job is not None:
            selector = obs.job.get("spec", {}).get("selector")

        rs_read = False
        if selector is not None and workload is not None:
            self._workload_round(obs, workload, selector, early)
            rs_read = obs.deployment is not None
        elif selector is not None:
            obs.pods = self.list_items(obs, "pods", selector)
        elif kind == "namespace":
            obs.pods = self.list_items(obs, "pods")
        if obs.service and selector and not obs.pods:
            self._service_backends(obs, selector)

        self._owners(obs, replicasets_read=rs_read)
        if kind == "pod" and obs.workload and obs.target:
            # a pod's incident is judged with its siblings: one stuck pod among healthy ones is not an outage
            siblings = self.list_items(obs, "pods", obs.workload.get("spec", {}).get("selector"))
            names = {p["metadata"]["name"] for p in siblings}
            obs.pods = siblings + ([obs.target] if obs.target["metadata"]["name"] not in names else [])
        self._last_round(obs, early)
        self._network(obs)

    def _network(self, obs: Observation) -> None:
        """Logs that show a failing network path (DNS, timeouts): read what decides it in the namespace --
        its NetworkPolicies and Services -- in one round."""
        if not any(NETWORK_ERRORS.search(text or "") for text in obs.logs.values()):
            return
        if obs.networkpolicies is not None and obs.services is not None:
            return  # read with the namespace's context
        policies, services = self.get_json_many(obs, ["networkpolicies", "services"], listing=True)
        obs.networkpolicies = (policies or {}).get("items", []) if policies is not None else None
        obs.services = (services or {}).get("items", []) if services is not None else None

    WORKLOADS = ("deployment", "statefulset", "daemonset")

    def _workload_commands(self, workload: dict[str, Any], selector: dict[str, Any], *, deployment: bool) -> tuple[list[str], list[str]]:
        """(list arguments, commands) of a workload's round: its pods, a Deployment's ReplicaSets, usage."""
        ns = f"-n {shlex.quote(self.ns)}"
        lists = [self._list_args("pods", selector)] + ([self._list_args("replicasets", selector)] if deployment else [])
        commands = [f"kubectl get {a} {ns} -o jsonpath={{@}}" for a in lists]
        if has_limits(workload.get("spec", {}).get("template", {}).get("spec", {})):
            commands.append(self._top_command())
        return lists, commands

    def _prefetch_workload(self, obs: Observation, kind: str, call: Any | None) -> None:
        """The workload's round, started as soon as the target is read, and its pods' logs as soon as the pods
        are: the commands `_workload_round` and `_last_round` will ask for when the rounds before have ended."""
        target = self._parse(call) if getattr(call, "ok", False) and not getattr(call, "refused", None) else None
        selector = (target or {}).get("spec", {}).get("selector")
        if target is not None and selector is not None:
            commands = self._workload_commands(target, selector, deployment=kind == "deployment")[1]
            self.prefetch(commands)
            self._prefetch_logs(obs, commands[0], selector)

    def _prefetch_logs(self, obs: Observation, pods_command: str, selector: dict[str, Any]) -> None:
        listed = self.peek(pods_command) if self.read_logs else None
        pods = self._parse(listed) if getattr(listed, "ok", False) and not getattr(listed, "refused", None) else None
        if pods is not None:
            self.prefetch([c for _key, c in self._log_commands(obs, self._select(pods, selector))])

    def _workload_round(self, obs: Observation, workload: dict[str, Any], selector: dict[str, Any], early: dict[str, Any]) -> None:
        """A workload's pods, a Deployment's ReplicaSets (revision history) and, when the pod template has
        limits, the pods' usage: no answer depends on another, so one round (`early` gets the metrics call).
        The pods' logs are started as soon as the pods are read (they need nothing else)."""
        lists, commands = self._workload_commands(workload, selector, deployment=obs.deployment is not None)
        self.prefetch(commands)
        self._prefetch_logs(obs, commands[0], selector)
        calls = self._round(obs, commands)
        answers = [self._answer(obs, a, self._checked(obs, c, call), listing=True) for a, c, call in zip(lists, commands, calls)]
        obs.pods = self._select(answers[0], selector)
        if obs.deployment:
            self._keep_owned_replicasets(obs, self._select(answers[1], selector))
        if len(calls) > len(lists):
            early["top"] = calls[-1]

    def _top_command(self) -> str:
        return f"kubectl top pods -n {shlex.quote(self.ns)} --no-headers"

    def _last_round(self, obs: Observation, early: dict[str, Any]) -> None:
        """Everything that needs only the pods, in one round: events, logs, PVCs, config references, metrics
        (events and metrics only when the workload's round did not read them)."""
        self._absorb_events(obs, self._checked(obs, self._events_command(), early["events"]))
        lost = [n["metadata"]["name"] for n in obs.nodes or [] if any(
            c.get("type") == "Ready" and c.get("status") != "True" for c in n["status"]["conditions"])][:3]
        node_conds = [f"kubectl get node {shlex.quote(n)} -o jsonpath={{.status.conditions}}" for n in lost]
        hooks = [f"kubectl get {k} -o jsonpath={{@}}" for k in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations")] \
            if any(e.get("reason") == "FailedCreate" and "webhook" in (e.get("message") or "") for e in obs.events) else []
        history = self._history_future(obs)
        logs = self._log_commands(obs) if self.read_logs else []
        claims = self._claims(obs)
        pvcs = f"kubectl get persistentvolumeclaims -n {shlex.quote(self.ns)} -o jsonpath={{@}}" if claims else None
        refs = self._config_refs(obs)
        exists = [f"kubectl get {k} {shlex.quote(n)} -n {shlex.quote(self.ns)} -o name" for k, n in refs]
        top = self._top_command() if "top" not in early and self._wants_metrics(obs) else None
        commands = [*[c for _key, c in logs], *([pvcs] if pvcs else []), *exists, *([top] if top else []), *hooks, *node_conds]
        calls_iter = iter(self._round(obs, commands) if commands else [])
        for key, command in logs:
            call = self._checked(obs, command, next(calls_iter))
            if call is not None:
                obs.logs[key] = _strip_marker(call.output)
        if pvcs:
            data = self._answer(obs, "persistentvolumeclaims", self._checked(obs, pvcs, next(calls_iter)), listing=True)
            obs.pvcs = [c for c in (data or {}).get("items", []) if "*" in claims or c["metadata"]["name"] in claims]
        for (kind, name), command in zip(refs, exists):
            found = _existence(next(calls_iter))
            if found is not None:
                (obs.configmaps if kind == "configmap" else obs.secrets)[name] = found
        top_call = next(calls_iter) if top else early.get("top")
        if top_call is not None:
            self._absorb_metrics(obs, top_call)
        if hooks:
            obs.webhooks = []
            for command, kind in zip(hooks, ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")):
                data = self._optional(obs, kind + "s", command, next(calls_iter))
                obs.webhooks += [dict(item, kind=kind) for item in (data or {}).get("items", [])]
        for n, command in zip(lost, node_conds):  # a lost node's conditions in full: their messages say why
            call = self._checked(obs, command, next(calls_iter))
            conds = _json_list(call.output) if call is not None else None
            if conds:
                next(x for x in obs.nodes or [] if x["metadata"]["name"] == n)["status"]["conditions"] = conds
        if history is not None:
            obs.history = history.result()
        self._scheduling(obs)

    def _history_future(self, obs: Observation) -> Future[WorkloadHistory] | None:
        """The metrics history of the workload's pods, asked while the last round of kubectl runs."""
        from .history import ask, history_source

        source = self.history or history_source()
        pods = [p["metadata"]["name"] for p in obs.pods if p.get("status", {}).get("phase") == "Running"]
        if source is None or not pods:
            return None
        containers = sorted({c["name"] for p in obs.pods for c in p.get("spec", {}).get("containers", []) or []})
        return ask(source, self.ns, pods, containers, self.deadline if self.deadline is not None else time.monotonic() + 10.0)

    def _keep_owned_replicasets(self, obs: Observation, replicasets: list[dict[str, Any]]) -> None:
        d = obs.deployment or {}
        meta = d.get("metadata", {})
        obs.replicasets = [r for r in replicasets if owned_by(r, "Deployment", meta.get("name"), meta.get("uid"))]

    def _owners(self, obs: Observation, *, replicasets_read: bool) -> None:
        """For a pod or service: the controller its pods belong to; then that Deployment's ReplicaSets
        (revision history), unless they were read together with the pods."""
        if replicasets_read:
            return
        if not obs.deployment:
            owners = sorted({(o.get("kind"), o.get("name")) for p in obs.pods for o in p["metadata"].get("ownerReferences", []) or []}, key=str)
            for okind, oname in owners:
                if okind == "ReplicaSet" and not obs.deployment:
                    rs = self.get_json(obs, f"replicaset {shlex.quote(oname)}")
                    dep = next((o for o in (rs or {}).get("metadata", {}).get("ownerReferences", []) or [] if o.get("kind") == "Deployment"), None)
                    if dep:
                        obs.deployment = self.get_json(obs, f"deployment {shlex.quote(dep['name'])}")
                elif okind == "StatefulSet" and not obs.statefulset:
                    obs.statefulset = self.get_json(obs, f"statefulset {shlex.quote(oname)}")
        if obs.deployment:
            self._keep_owned_replicasets(obs, self.list_items(obs, "replicasets", obs.deployment.get("spec", {}).get("selector")))

    def _service_backends(self, obs: Observation, selector: dict[str, Any]) -> None:
        """A Service selecting no pod: a workload scaled to zero behind it, or a selector matching nothing."""
        data = self.get_json(obs, "deployments", listing=True)
        for d in (data or {}).get("items", []):
            tmpl = d.get("spec", {}).get("template", {}).get("metadata", {}).get("labels")
            if selector_matches(selector, tmpl):
                obs.deployment = d
                return
        for p in self.list_items(obs, "pods")[:5]:
            labels = p["metadata"].get("labels") or {}
            obs.namespace_labels.append(f"{p['metadata']['name']}: " + ",".join(f"{k}={v}" for k, v in sorted(labels.items())))

    @staticmethod
    def _wants_metrics(obs: Observation) -> bool:
        """Usage (`kubectl top`, metrics-server) only matters for running pods with a memory or CPU limit."""
        return any(has_limits(p.get("spec", {})) for p in obs.pods if p.get("status", {}).get("phase") == "Running")

    def _log_commands(self, obs: Observation, pods: list[dict[str, Any]] | None = None) -> list[tuple[str, str]]:
        """(key, command): the previous instance's logs of restarted containers (the crash), the logs of
        running ones that restarted or are unready, and of terminated ones (a Job's failed pod). A few pods
        tell the story: no new container once six reads are planned. When nothing looks wrong, the logs of
        the first Ready, never-restarted containers are read too: a workload can be Ready and still fail
        (Forbidden from the API server, timeouts to a dependency) -- silence there is not "no fault".
        pods: whose logs (`obs.pods` when not given; the prefetch names them before they are set)."""
        out: list[tuple[str, str]] = []
        quiet: list[tuple[str, str]] = []
        for pod in obs.pods if pods is None else pods:
            pname = pod["metadata"]["name"]
            ready = pod_ready(pod)
            for cs in pod.get("status", {}).get("containerStatuses", []) or []:
                if len(out) >= LOG_CALLS:
                    return out
                c = cs.get("name")
                base = f"kubectl logs {shlex.quote(pname)} -c {shlex.quote(c)} -n {shlex.quote(self.ns)} --tail={self.log_tail}"
                restarted = cs.get("restartCount", 0) > 0 or bool(cs.get("lastState", {}).get("terminated"))
                state = cs.get("state") or {}
                if restarted:
                    out.append((f"{pname}/{c}/previous", base + " --previous"))
                if ("running" in state and (restarted or not ready)) or "terminated" in state:
                    out.append((f"{pname}/{c}", base))
                elif "running" in state and len(quiet) < QUIET_LOGS:
                    quiet.append((f"{pname}/{c}", base))
        return out or quiet

    def _claims(self, obs: Observation) -> set[str]:
        """PVC names the pods mount; "*" when a StatefulSet has claim templates (its PVCs are generated)."""
        claims = {
            (v.get("persistentVolumeClaim") or {}).get("claimName")
            for p in obs.pods for v in p.get("spec", {}).get("volumes", []) or []
        } - {None}
        if obs.statefulset and obs.statefulset.get("spec", {}).get("volumeClaimTemplates"):
            claims.add("*")
        return claims

    def _scheduling(self, obs: Observation) -> None:
        """StorageClasses (cluster scope, may be refused) when pods wait on claims."""
        unbound = any(c.get("status", {}).get("phase") != "Bound" for c in obs.pvcs)
        if obs.pvcs and (unbound or any(p.get("status", {}).get("phase") == "Pending" for p in obs.pods)):
            data = self.get_cluster_json(obs, "storageclasses")
            obs.storageclasses = data.get("items", []) if data is not None else None

    @staticmethod
    def _config_refs(obs: Observation) -> list[tuple[str, str]]:
        """(kind, name) of ConfigMaps / Secrets the failing containers reference (CreateContainerConfigError)."""
        failing = [
            p for p in obs.pods
            if any((cs.get("state", {}).get("waiting") or {}).get("reason") == "CreateContainerConfigError"
                   for cs in p.get("status", {}).get("containerStatuses", []) or [])
        ]
        refs: list[tuple[str, str]] = []
        for pod in failing[:2]:
            cms, secs = config_refs(pod)
            refs += [("configmap", n) for n in sorted(cms)] + [("secret", n) for n in sorted(secs)]
        return list(dict.fromkeys(refs))

