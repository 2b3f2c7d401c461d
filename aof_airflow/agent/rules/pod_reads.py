"""The pods' rounds of a diagnosis: a workload's pods with its ReplicaSets and usage, then everything that needs
only the pods (events, logs, claims, referenced ConfigMaps and Secrets, admission webhooks, lost nodes' conditions,
the metrics history), and the namespace's network objects when logs show a failing network path.

WHY apart from `gather.py`: that module decides what the incident names and what it depends on; this one reads
what the pods of that target need, and chooses which containers' logs tell the story.
"""

from __future__ import annotations

import re
import shlex
import time
from typing import TYPE_CHECKING, Any

from .objects import Observation, config_refs, has_limits, owned_by, pod_ready
from .reads import Reader, _existence, _json_list, _json_map, _strip_marker
from .stale import start_sources

if TYPE_CHECKING:
    from concurrent.futures import Future

    from aof_airflow.services.metrics_history import HistorySource, WorkloadHistory

LOG_TAIL = 20
LOG_CALLS = 6  # log reads per diagnosis
QUIET_LOGS = LOG_CALLS  # current logs of Ready, never-restarted containers read when nothing else looks wrong
# Log lines of a failing network path: the NetworkPolicies and Services of the namespace are then read.
NETWORK_ERRORS = re.compile(
    r"no such host|EAI_AGAIN|ENOTFOUND|temporary failure in name resolution|dial (?:tcp|udp) [^ ]+: i/o timeout"
    r"|i/o timeout|connection timed out|timed out|ETIMEDOUT|timeout", re.I)


class PodReads(Reader):
    """The reads that follow from the pods (a mixin of `Gatherer`: `history`, `deadline`, `log_tail` and
    `read_logs` are set by its constructor)."""

    history: HistorySource | None
    deadline: float | None
    log_tail: int
    read_logs: bool

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
        """(list arguments, commands) of a workload's round: its pods, its revision history (a Deployment's
        ReplicaSets, a DaemonSet's or StatefulSet's ControllerRevisions), usage."""
        ns = f"-n {shlex.quote(self.ns)}"
        lists = [self._list_args("pods", selector), self._list_args("replicasets" if deployment else "controllerrevisions", selector)]
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
        """A workload's pods, its revision history (ReplicaSets or ControllerRevisions) and, when the pod template
        has limits, the pods' usage: no answer depends on another, so one round (`early` gets the metrics call).
        The pods' logs are started as soon as the pods are read (they need nothing else)."""
        lists, commands = self._workload_commands(workload, selector, deployment=obs.deployment is not None)
        self.prefetch(commands)
        self._prefetch_logs(obs, commands[0], selector)
        calls = self._round(obs, commands)
        answers = [self._answer(obs, a, self._checked(obs, c, call), listing=True) for a, c, call in zip(lists, commands, calls)]
        obs.pods = self._select(answers[0], selector)
        if obs.deployment:
            self._keep_owned_replicasets(obs, self._select(answers[1], selector))
        else:
            self._keep_owned_revisions(obs, None if answers[1] is None else self._select(answers[1], selector))
        if len(calls) > len(lists):
            early["top"] = calls[-1]

    @staticmethod
    def _keep_owned_revisions(obs: Observation, revisions: list[dict[str, Any]] | None) -> None:
        """The ControllerRevisions the DaemonSet or StatefulSet owns (None: not read, so no revision fact is proven)."""
        w = obs.statefulset or obs.daemonset
        if w is None or revisions is None:
            return
        kind, meta = ("StatefulSet" if obs.statefulset else "DaemonSet"), w.get("metadata", {})
        obs.controllerrevisions = [r for r in revisions if owned_by(r, kind, meta.get("name"), meta.get("uid"))]

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
        sources = self._env_sources(obs, set(refs))
        written = [f"kubectl get {k} {shlex.quote(n)} -n {shlex.quote(self.ns)} --show-managed-fields=true "
                   "-o jsonpath={.metadata}" for k, n in sources]
        commands = [*[c for _key, c in logs], *([pvcs] if pvcs else []), *exists, *([top] if top else []), *hooks, *node_conds,
                    *written]
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
        for (kind, name), command in zip(sources, written):
            call = self._checked(obs, command, next(calls_iter))
            meta = _json_map(call.output) if call is not None else {}
            # the last write of a manager that owns the data (a label or annotation edit changes no value)
            stamps = [f.get("time") for f in meta.get("managedFields") or []
                      if {"f:data", "f:binaryData", "f:stringData"} & set(f.get("fieldsV1") or {})]
            stamps.append(meta.get("creationTimestamp"))
            last = max((t for t in stamps if isinstance(t, str) and t), default=None)
            if last:
                obs.config_written[f"{kind}/{name}"] = last
        if history is not None:
            obs.history = history.result()
        self._scheduling(obs)

    @staticmethod
    def _env_sources(obs: Observation, skip: set[tuple[str, str]]) -> list[tuple[str, str]]:
        """The ConfigMaps and Secrets the running pods take once, at start (environment, subPath mounts: at most
        three), whose last write is read (metadata only, never a Secret's data): a later write never reaches them."""
        running = [p for p in obs.pods if p.get("status", {}).get("phase") == "Running"]
        return sorted({s for p in running for s in start_sources(p)} - skip)[:3]

    def _history_future(self, obs: Observation) -> Future[WorkloadHistory] | None:
        """The metrics history of the workload's pods, asked while the last round of kubectl runs."""
        from .history import ask, history_source

        source = self.history or history_source()
        pods = [p["metadata"]["name"] for p in obs.pods if p.get("status", {}).get("phase") == "Running"]
        if source is None or not pods:
            return None
        containers = sorted({c["name"] for p in obs.pods for c in p.get("spec", {}).get("containers", []) or []})
        return ask(source, self.ns, pods, containers, self.deadline if self.deadline is not None else time.monotonic() + 10.0)

    @staticmethod
    def _wants_metrics(obs: Observation) -> bool:
        """Usage (`kubectl top`, metrics-server) only matters for running pods with a memory or CPU limit."""
        return any(has_limits(p.get("spec", {})) for p in obs.pods if p.get("status", {}).get("phase") == "Running")

    def _log_commands(self, obs: Observation, pods: list[dict[str, Any]] | None = None) -> list[tuple[str, str]]:
        """(key, command): the previous instance's logs of restarted containers (the crash), the logs of
        running ones that restarted or are unready, and of terminated ones (a Job's failed pod). A few pods
        tell the story: no new container once six reads are planned. When nothing looks wrong, the logs of
        the first Ready, never-restarted containers are read too (and beside the restarted ones when every pod is
        Ready): a workload can be Ready and still fail
        (Forbidden from the API server, timeouts to a dependency) -- silence there is not "no fault". A pod the
        incident names comes first, whatever its state: it is what the alert saw failing. An init container that
        still runs or restarted holds its pod back (a migration waiting on a lock): its log says on what.
        pods: whose logs (`obs.pods` when not given; the prefetch names them before they are set)."""
        out: list[tuple[str, str]] = []
        quiet: list[tuple[str, str]] = []
        named = obs.name if obs.kind == "pod" else None
        for pod in sorted(obs.pods if pods is None else pods, key=lambda p: p["metadata"]["name"] != named):
            pname = pod["metadata"]["name"]
            ready = pod_ready(pod)
            st = pod.get("status", {})
            inits = [cs for cs in st.get("initContainerStatuses") or [] if not _init_done(cs)]
            for cs in inits + (st.get("containerStatuses") or []):
                if len(out) >= LOG_CALLS:
                    return out
                c = cs.get("name")
                base = f"kubectl logs {shlex.quote(pname)} -c {shlex.quote(c)} -n {shlex.quote(self.ns)} --tail={self.log_tail}"
                restarted = cs.get("restartCount", 0) > 0 or bool(cs.get("lastState", {}).get("terminated"))
                state = cs.get("state") or {}
                if cs in inits and not restarted and "waiting" in state:
                    continue  # not started yet: no log
                if cs in inits and "running" in state and not restarted:
                    out.append((f"{pname}/{c}", base))
                    continue
                if restarted:
                    out.append((f"{pname}/{c}/previous", base + " --previous"))
                if ("running" in state and (restarted or not ready)) or "terminated" in state:
                    out.append((f"{pname}/{c}", base))
                elif "running" in state:
                    quiet.append((f"{pname}/{c}", base))
        # one container of each pod before a second of any: a replica that went wrong alone (started without its
        # configuration, wedged) is found only if its own log is read
        quiet = _one_per_pod_first(quiet)[:QUIET_LOGS]
        if out and all(pod_ready(p) for p in (obs.pods if pods is None else pods)):
            # every pod is Ready, only past restarts stand out: what fails now is in the running containers' logs
            return out + quiet[: max(0, LOG_CALLS - len(out))]
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


def _one_per_pod_first(reads: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The reads ("pod/container", command) reordered so that every pod's first container comes before any second."""
    nth: dict[str, int] = {}
    ranked = []
    for key, cmd in reads:
        pod = key.split("/")[0]
        nth[pod] = nth.get(pod, -1) + 1
        ranked.append((nth[pod], key, cmd))
    return [(key, cmd) for _, key, cmd in sorted(ranked, key=lambda r: r[0])]


def _init_done(cs: dict[str, Any]) -> bool:
    """An init container that finished cleanly (or a sidecar that runs beside the main ones) holds nothing back."""
    term = (cs.get("state") or {}).get("terminated") or {}
    return (term.get("exitCode") == 0 and not cs.get("restartCount")) or bool(cs.get("started") and cs.get("ready"))
