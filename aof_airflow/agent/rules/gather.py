"""kubectl -> Observation: what to read for an incident -- the named object of any kind, what it depends on
(Services and Endpoints in front, HPAs, PDBs, quotas, the nodes, admission webhooks when pods are refused,
IngressClasses for an Ingress), the controller that owns its pods and that controller's revisions; the pods'
rounds (their events, usage, logs, claims, history) are in `pod_reads.py`.

WHY a separate layer: detectors are pure functions over dicts (unit-testable without a cluster); only this
module (through `reads.Reader`) talks to the cluster, through `toolbox.shell(...)`, the same guarded Shell tool
(namespace scope, read-only verbs for the diagnostic agent, output truncation) an LLM agent gets. What could
not be read is recorded in `Observation.not_read`, never reported as fine. Nothing here mutates.
"""

from __future__ import annotations

import shlex
import time
from typing import TYPE_CHECKING, Any

from .objects import KINDS, Observation, config_refs, owned_by, parse_resource, selector_matches
from .pod_reads import LOG_TAIL, PodReads
from .reads import EVENT_COLUMNS, Shell, event_rows

if TYPE_CHECKING:
    from aof_airflow.services.metrics_history import HistorySource

__all__ = ["Gatherer", "Observation", "KINDS", "Shell", "parse_resource", "selector_matches", "event_rows", "config_refs"]


class Gatherer(PodReads):
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

    def _node_events(self, obs: Observation, name: str) -> list[dict[str, Any]]:
        """A node's own events (the kubelet's and node-problem-detector's: ConntrackFull, KernelDeadlock,
        FrequentContainerdRestart...) are recorded in the default namespace, not in the incident's: read them there
        for the node the incident names; a refusal is "not examined"."""
        command = (f"kubectl get events -n default --field-selector involvedObject.name={shlex.quote(name)} "
                   f"--no-headers -o custom-columns={EVENT_COLUMNS}")
        call = self.run(obs, command)
        if call is None or getattr(call, "truncated", False):
            obs.not_read[f"events of node {name}"] = "not read (they are recorded in namespace default)"
            return []
        return [e for e in event_rows(call.output) if e.get("involvedObject", {}).get("kind") == "Node"]

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
            # a claim's health shows in the pods that mount it (a full volume crashes them, a missing one holds them)
            obs.pvcs, obs.users_read = [target], True
            obs.pods = [p for p in self.list_items(obs, "pods") if any(
                (v.get("persistentVolumeClaim") or {}).get("claimName") == name for v in p.get("spec", {}).get("volumes") or [])]
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
            node_events = self._node_events(obs, name)
        workload = obs.deployment or obs.statefulset or obs.daemonset
        if workload is not None:
            selector = workload.get("spec", {}).get("selector")
        elif obs.job is not None:
            selector = obs.job.get("spec", {}).get("selector")

        rs_read = False
        if selector is not None and workload is not None:
            self._workload_round(obs, workload, selector, early)
            rs_read = True
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
        if kind == "node" and name:
            obs.events += node_events

    def _keep_owned_replicasets(self, obs: Observation, replicasets: list[dict[str, Any]]) -> None:
        d = obs.deployment or {}
        meta = d.get("metadata", {})
        obs.replicasets = [r for r in replicasets if owned_by(r, "Deployment", meta.get("name"), meta.get("uid"))]

    def _owners(self, obs: Observation, *, replicasets_read: bool) -> None:
        """For a pod or service: the controller its pods belong to; then its revision history (a Deployment's
        ReplicaSets, a DaemonSet's or StatefulSet's ControllerRevisions), unless read together with the pods."""
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
                elif okind == "DaemonSet" and not obs.daemonset:
                    obs.daemonset = self.get_json(obs, f"daemonset {shlex.quote(oname)}")
        if obs.deployment:
            self._keep_owned_replicasets(obs, self.list_items(obs, "replicasets", obs.deployment.get("spec", {}).get("selector")))
        elif obs.statefulset or obs.daemonset:
            sel = (obs.statefulset or obs.daemonset or {}).get("spec", {}).get("selector")
            data = self.get_json(obs, self._list_args("controllerrevisions", sel), listing=True)
            self._keep_owned_revisions(obs, None if data is None else self._select(data, sel))

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
