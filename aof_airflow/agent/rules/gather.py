"""kubectl -> Observation: which read-only commands to run for an incident's resource, and their parsed JSON.

WHY a separate layer: detectors are pure functions over dicts (unit-testable without a cluster); only this
module talks to the cluster, and only through `toolbox.shell(...)`, the same guarded Shell tool (namespace
scope, read-only verbs for the diagnostic agent, output truncation) an LLM agent gets. Nothing here mutates.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

# The event fields the detectors read, as a table: a fifth of the characters of the events' JSON, so a
# namespace's events fit the Shell tool's output limit in one answer far more often (one call instead of
# one per object). The message comes last: it is the only column that may contain spaces.
EVENT_COLUMNS = ("KIND:.involvedObject.kind,NAME:.involvedObject.name,REASON:.reason,TYPE:.type,COUNT:.count,"
                 "LAST:.lastTimestamp,TIME:.eventTime,MESSAGE:.message")
_STAMP = r"(\d{4}-\d\d-\d\dT\S+|<none>|<nil>)"
_EVENT_ROW = re.compile(rf"^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+|<none>|<nil>)\s+{_STAMP}\s+{_STAMP}(?:\s+(.*))?$")
LOG_TAIL = 20
LOG_CALLS = 6  # log reads per diagnosis
QUIET_LOGS = 2  # current logs of Ready, never-restarted containers read when nothing else looks wrong
MAX_ITEMS = 8  # per-item reads when a list is too long for the Shell tool's output limit
# Log lines of a failing network path: the NetworkPolicies and Services of the namespace are then read.
NETWORK_ERRORS = re.compile(
    r"no such host|EAI_AGAIN|ENOTFOUND|temporary failure in name resolution|dial (?:tcp|udp) [^ ]+: i/o timeout"
    r"|i/o timeout|connection timed out|timed out|ETIMEDOUT|timeout", re.I)
# What builtin:k8s-rules reads for each kind it can be paged for; any other kind is reported "not examined".
KINDS = ("deployment", "statefulset", "daemonset", "pod", "service", "job", "cronjob", "node", "namespace")


class Shell(Protocol):
    """The slice of the agent runtime's Toolbox this engine uses."""

    def shell(self, command: str) -> Any:  # -> aof_airflow.agent.types.ToolCall
        ...

    def shell_many(self, commands: Sequence[str]) -> list[Any]:  # run together, recorded in order
        ...


@dataclass
class Observation:
    """Everything gathered about one incident's resource. Lists hold Kubernetes objects as the API returns them."""

    namespace: str
    kind: str  # one of KINDS, or a kind the engine does not read (then `examined` is False)
    name: str | None
    target: dict[str, Any] | None = None  # the object named by the incident (None when not found)
    deployment: dict[str, Any] | None = None
    statefulset: dict[str, Any] | None = None
    daemonset: dict[str, Any] | None = None
    job: dict[str, Any] | None = None  # the Job named (or a CronJob's newest Job)
    service: dict[str, Any] | None = None
    endpoints: dict[str, Any] | None = None
    pods: list[dict[str, Any]] = field(default_factory=list)
    replicasets: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[dict[str, Any]] | None = None  # None = not gathered / not allowed (cluster scope)
    pvcs: list[dict[str, Any]] = field(default_factory=list)
    storageclasses: list[dict[str, Any]] | None = None
    configmaps: dict[str, bool] = field(default_factory=dict)  # name -> exists
    secrets: dict[str, bool] = field(default_factory=dict)  # name -> exists (never the data)
    logs: dict[str, str] = field(default_factory=dict)  # "<pod>/<container>" and "<pod>/<container>/previous"
    memory_usage: dict[str, int] = field(default_factory=dict)  # pod -> bytes, from `kubectl top` when served
    namespace_labels: list[str] = field(default_factory=list)  # "pod: k=v,..." when a Service selects nothing
    networkpolicies: list[dict[str, Any]] | None = None  # None = not read (read when logs show network errors)
    services: list[dict[str, Any]] | None = None  # the namespace's Services, read with the NetworkPolicies
    capped: dict[str, tuple[int, int]] = field(default_factory=dict)  # list -> (items read, items listed)
    errors: list[str] = field(default_factory=list)  # commands that failed or were refused, verbatim
    commands: list[str] = field(default_factory=list)

    @property
    def workload(self) -> dict[str, Any] | None:
        """The controller the pods belong to (Deployment, StatefulSet or DaemonSet), if any."""
        return self.deployment or self.statefulset or self.daemonset

    @property
    def workload_ref(self) -> str | None:
        if self.deployment:
            return f"deployment/{self.deployment['metadata']['name']}"
        if self.statefulset:
            return f"statefulset/{self.statefulset['metadata']['name']}"
        if self.daemonset:
            return f"daemonset/{self.daemonset['metadata']['name']}"
        return None

    @property
    def examined(self) -> bool:
        """Whether this engine reads the incident's kind at all (False: say "not examined", never "not found")."""
        return self.kind in KINDS

    @property
    def pods_complete(self) -> bool:
        """False when the pod list was longer than what was read (counts then come from the controller's status)."""
        return not any(k.startswith("pods") for k in self.capped)


def parse_resource(resource: str | None, service: str | None = None) -> tuple[str, str | None]:
    """'deployment/api', 'deploy/api', 'sts/pg', 'pod/x', 'svc/y' or a bare name -> (kind, name)."""
    aliases = {
        "deployment": "deployment", "deployments": "deployment", "deploy": "deployment",
        "deployment.apps": "deployment",
        "statefulset": "statefulset", "statefulsets": "statefulset", "sts": "statefulset",
        "statefulset.apps": "statefulset",
        "pod": "pod", "pods": "pod", "po": "pod",
        "service": "service", "services": "service", "svc": "service",
        "daemonset": "daemonset", "daemonsets": "daemonset", "ds": "daemonset", "daemonset.apps": "daemonset",
        "job": "job", "jobs": "job", "job.batch": "job",
        "cronjob": "cronjob", "cronjobs": "cronjob", "cj": "cronjob", "cronjob.batch": "cronjob",
        "node": "node", "nodes": "node", "no": "node",
    }
    if resource:
        resource = resource.strip()
        if "/" in resource:
            kind, name = resource.split("/", 1)
            return aliases.get(kind.lower(), kind.lower()), name
        return "deployment", resource
    if service:
        return "deployment", service
    return "namespace", None


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str] | None) -> bool:
    """Label selector semantics (matchLabels + matchExpressions, or a Service's plain map)."""
    if not selector:
        return False
    labels = labels or {}
    match_labels = selector.get("matchLabels") if ("matchLabels" in selector or "matchExpressions" in selector) else selector
    for k, v in (match_labels or {}).items():
        if labels.get(k) != v:
            return False
    exprs = (selector.get("matchExpressions") or []) if "matchExpressions" in selector else []
    for expr in exprs:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _label_arg(selector: dict[str, Any] | None) -> str | None:
    """A `-l` argument for simple equality selectors; None when client-side filtering must do."""
    if not selector:
        return None
    ml = selector.get("matchLabels") if "matchLabels" in selector or "matchExpressions" in selector else selector
    if not ml or selector.get("matchExpressions"):
        return None
    return ",".join(f"{k}={v}" for k, v in sorted(ml.items()))


class Gatherer:
    """Runs the read-only kubectl commands for one scope and fills an Observation.

    WHY in batches: every kubectl call is a process start plus a TLS handshake (0.1-0.3 s). Commands that do
    not depend on each other's answers go to the Shell tool together (`shell_many`), so a diagnosis waits
    for three or four rounds of calls (the target; its pods and ReplicaSets; events, logs and metrics)
    instead of the sum of fifteen.
    """

    def __init__(self, toolbox: Shell, namespace: str, *, log_tail: int = LOG_TAIL, logs: bool = True) -> None:
        """logs=False: state only (objects, events, metrics). Logs name a cause more precisely; whether a
        fault is there, and where, is read from the objects (the check just before a change)."""
        self.toolbox = toolbox
        self.ns = namespace
        self.log_tail = log_tail
        self.read_logs = logs
        self.calls: list[Any] = []

    # -- low level ---------------------------------------------------------------------------------------------
    def run(self, obs: Observation, command: str) -> Any | None:
        return self.run_many(obs, [command])[0]

    def run_many(self, obs: Observation, commands: Sequence[str]) -> list[Any | None]:
        """The calls in order; None for a refused or failed one (its reason noted in `obs.errors`)."""
        if not commands:
            return []
        return [self._checked(obs, c, call) for c, call in zip(commands, self._round(obs, commands))]

    def get_json(self, obs: Observation, args: str, *, listing: bool = False) -> dict[str, Any] | None:
        return self.get_json_many(obs, [args], listing=listing)[0]

    def get_json_many(self, obs: Observation, args_list: Sequence[str], *, listing: bool = False) -> list[dict[str, Any] | None]:
        """`kubectl get ARGS` for each ARGS, together, as compact JSON (`-o jsonpath={@}`: the object of
        `-o json` in about half the characters). The Shell tool truncates long outputs (8000 chars by
        default), so a list still too long is read item by item."""
        ns = f"-n {shlex.quote(self.ns)}"
        calls = self.run_many(obs, [f"kubectl get {a} {ns} -o jsonpath={{@}}" for a in args_list])
        return [self._answer(obs, a, c, listing=listing) for a, c in zip(args_list, calls)]

    def _answer(self, obs: Observation, args: str, call: Any | None, *, listing: bool) -> dict[str, Any] | None:
        """The JSON of `kubectl get ARGS`'s answer; a list too long for the Shell tool is read item by item."""
        data = self._parse(call) if call is not None else None
        if data is None and call is not None:
            if listing and getattr(call, "truncated", False):
                return self._item_by_item(obs, args)
            reason = "truncated by the Shell tool" if getattr(call, "truncated", False) else "is not JSON"
            obs.errors.append(f"kubectl get {args}: output {reason}")
        return data

    def _item_by_item(self, obs: Observation, args: str) -> dict[str, Any]:
        ns = f"-n {shlex.quote(self.ns)}"
        call = self.run(obs, f"kubectl get {args} {ns} -o name")
        listed = [ln.strip() for ln in (call.output if call is not None else "").splitlines() if "/" in ln]
        names = listed[:MAX_ITEMS]
        calls = self.run_many(obs, [f"kubectl get {shlex.quote(n)} {ns} -o jsonpath={{@}}" for n in names])
        items = [item for item in (self._parse(c) if c is not None else None for c in calls) if item is not None]
        if len(listed) > MAX_ITEMS:
            obs.capped[args] = (len(items), len(listed))
            obs.errors.append(f"kubectl get {args}: {len(listed)} items, only the first {MAX_ITEMS} read")
        return {"items": items}

    def get_cluster_json(self, obs: Observation, args: str) -> dict[str, Any] | None:
        call = self.run(obs, f"kubectl get {args} -o jsonpath={{@}}")
        if call is None:
            return None
        data = self._parse(call)
        if data is None:
            obs.errors.append(f"kubectl get {args}: output truncated or not JSON")
        return data

    @staticmethod
    def _parse(call: Any) -> dict[str, Any] | None:
        if getattr(call, "truncated", False):
            return None
        try:
            data = json.loads(call.output)
        except (ValueError, TypeError):
            return None
        return data if isinstance(data, dict) else None

    @staticmethod
    def _list_args(kind: str, selector: dict[str, Any] | None) -> str:
        label = _label_arg(selector)
        return kind + (f" -l {shlex.quote(label)}" if label else "")

    @staticmethod
    def _select(data: dict[str, Any] | None, selector: dict[str, Any] | None) -> list[dict[str, Any]]:
        """Items of a list answer, filtered client-side by the selector (always correct, also when -l was not)."""
        items = (data or {}).get("items", [])
        if selector is not None:
            items = [i for i in items if selector_matches(selector, i.get("metadata", {}).get("labels"))]
        return items

    def list_items(self, obs: Observation, kind: str, selector: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """List `kind` in the namespace, narrowed by -l when simple, then filtered client-side."""
        return self._select(self.get_json(obs, self._list_args(kind, selector), listing=True), selector)

    # -- the plan ----------------------------------------------------------------------------------------------
    def gather(self, kind: str, name: str | None) -> Observation:
        obs = Observation(namespace=self.ns, kind=kind, name=name)
        selector: dict[str, Any] | None = None
        rs_read = False
        q = shlex.quote(name) if name else ""
        if kind == "deployment" and name:
            obs.deployment = obs.target = self.get_json(obs, f"deployment {q}")
            if obs.deployment:
                selector = obs.deployment.get("spec", {}).get("selector")
        elif kind == "statefulset" and name:
            obs.statefulset = obs.target = self.get_json(obs, f"statefulset {q}")
            if obs.statefulset:
                selector = obs.statefulset.get("spec", {}).get("selector")
        elif kind == "service" and name:
            obs.service, obs.endpoints = self.get_json_many(obs, [f"service {q}", f"endpoints {q}"])
            obs.target = obs.service
            if obs.service:
                selector = obs.service.get("spec", {}).get("selector") or None
        elif kind == "daemonset" and name:
            obs.daemonset = obs.target = self.get_json(obs, f"daemonset {q}")
            if obs.daemonset:
                selector = obs.daemonset.get("spec", {}).get("selector")
        elif kind in ("job", "cronjob") and name:
            obs.target = self.get_json(obs, f"{kind} {q}")
            obs.job = obs.target if kind == "job" else self._newest_job(obs, name)
            if obs.job:
                selector = obs.job.get("spec", {}).get("selector")
        elif kind == "node" and name:
            obs.target = self.get_cluster_json(obs, f"node {q}")
            obs.nodes = [obs.target] if obs.target else None
        elif kind == "pod" and name:
            pod = self.get_json(obs, f"pod {q}")
            obs.target = pod
            obs.pods = [pod] if pod else []
        elif kind not in KINDS:
            return obs  # a kind this engine does not read: nothing gathered, reported as not examined

        early: dict[str, Any] = {}
        workload = obs.deployment or obs.statefulset
        if selector is not None and workload is not None:
            early = self._workload_round(obs, workload, selector)
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
        return obs

    def _newest_job(self, obs: Observation, cronjob: str) -> dict[str, Any] | None:
        """A CronJob's most recent Job (the one whose pods tell why the schedule fails)."""
        jobs = [j for j in (self.get_json(obs, "jobs", listing=True) or {}).get("items", [])
                if any(o.get("kind") == "CronJob" and o.get("name") == cronjob
                       for o in j.get("metadata", {}).get("ownerReferences", []) or [])]
        return max(jobs, key=lambda j: j["metadata"].get("creationTimestamp") or "") if jobs else None

    def _network(self, obs: Observation) -> None:
        """Logs that show a failing network path (DNS, timeouts): read what decides it in the namespace --
        its NetworkPolicies and Services -- in one round."""
        if not any(NETWORK_ERRORS.search(text or "") for text in obs.logs.values()):
            return
        policies, services = self.get_json_many(obs, ["networkpolicies", "services"], listing=True)
        obs.networkpolicies = (policies or {}).get("items", []) if policies is not None else None
        obs.services = (services or {}).get("items", []) if services is not None else None

    def _round(self, obs: Observation, commands: Sequence[str]) -> list[Any]:
        """The commands run together and recorded; the raw calls (each kind of answer has its own verdict)."""
        calls = self.toolbox.shell_many(list(commands)) if len(commands) > 1 else [self.toolbox.shell(c) for c in commands]
        for command, call in zip(commands, calls):
            self.calls.append(call)
            obs.commands.append(command)
        return calls

    def _workload_round(self, obs: Observation, workload: dict[str, Any], selector: dict[str, Any]) -> dict[str, Any]:
        """A workload's pods, a Deployment's ReplicaSets (revision history), the namespace's events and, when
        the pod template limits memory, the pods' usage: no answer depends on another, so one round. Returns
        the events and metrics calls for the last round to read."""
        ns = f"-n {shlex.quote(self.ns)}"
        lists = [self._list_args("pods", selector)] + ([self._list_args("replicasets", selector)] if obs.deployment else [])
        commands = [f"kubectl get {a} {ns} -o jsonpath={{@}}" for a in lists] + [self._events_command()]
        if _has_memory_limit(workload.get("spec", {}).get("template", {}).get("spec", {})):
            commands.append(self._top_command())
        calls = self._round(obs, commands)
        answers = [self._answer(obs, a, self._checked(obs, c, call), listing=True) for a, c, call in zip(lists, commands, calls)]
        obs.pods = self._select(answers[0], selector)
        if obs.deployment:
            self._keep_owned_replicasets(obs, self._select(answers[1], selector))
        return dict(zip(("events", "top"), calls[len(lists):]))

    def _top_command(self) -> str:
        return f"kubectl top pods -n {shlex.quote(self.ns)} --no-headers"

    def _last_round(self, obs: Observation, early: dict[str, Any]) -> None:
        """Everything that needs only the pods, in one round: events, logs, PVCs, config references, metrics
        (events and metrics only when the workload's round did not read them)."""
        events = None if "events" in early else self._events_command()
        logs = self._log_commands(obs) if self.read_logs else []
        claims = self._claims(obs)
        pvcs = f"kubectl get persistentvolumeclaims -n {shlex.quote(self.ns)} -o jsonpath={{@}}" if claims else None
        refs = self._config_refs(obs)
        exists = [f"kubectl get {k} {shlex.quote(n)} -n {shlex.quote(self.ns)} -o name" for k, n in refs]
        top = self._top_command() if "top" not in early and self._wants_metrics(obs) else None
        commands = [*([events] if events else []), *[c for _key, c in logs], *([pvcs] if pvcs else []), *exists,
                    *([top] if top else [])]
        calls_iter = iter(self._round(obs, commands) if commands else [])
        events_call = next(calls_iter) if events else early["events"]
        self._absorb_events(obs, self._checked(obs, self._events_command(), events_call))
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
        self._scheduling(obs)

    def _checked(self, obs: Observation, command: str, call: Any) -> Any | None:
        """`run_many`'s verdict for a call made in a mixed round."""
        if getattr(call, "refused", None):
            obs.errors.append(f"{command}: refused: {call.refused}")
            return None
        if not getattr(call, "ok", False):
            obs.errors.append(f"{command}: {str(getattr(call, 'output', ''))[:300]}")
            return None
        return call

    def _keep_owned_replicasets(self, obs: Observation, replicasets: list[dict[str, Any]]) -> None:
        d = obs.deployment or {}
        meta = d.get("metadata", {})
        obs.replicasets = [r for r in replicasets if _owned_by(r, "Deployment", meta.get("name"), meta.get("uid"))]

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
        """Memory usage (`kubectl top`, metrics-server) only matters for running pods with a memory limit."""
        return any(_has_memory_limit(p.get("spec", {})) for p in obs.pods if p.get("status", {}).get("phase") == "Running")

    @staticmethod
    def _absorb_metrics(obs: Observation, call: Any) -> None:
        if not getattr(call, "ok", False):
            return  # no metrics API: nothing to say about usage
        from .detectors import mem_bytes

        names = {p["metadata"]["name"] for p in obs.pods if p.get("status", {}).get("phase") == "Running"}
        for line in str(call.output).splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] in names:
                b = mem_bytes(parts[2])
                if b is not None:
                    obs.memory_usage[parts[0]] = b

    def _events_command(self, involved: str | None = None) -> str:
        about = f" --field-selector involvedObject.name={shlex.quote(involved)}" if involved else ""
        return f"kubectl get events -n {shlex.quote(self.ns)}{about} --no-headers -o custom-columns={EVENT_COLUMNS}"

    def _absorb_events(self, obs: Observation, call: Any | None) -> None:
        """Namespace events about the target, its pods, ReplicaSets, PVCs (filtered client-side)."""
        names = {p["metadata"]["name"] for p in obs.pods} | {r["metadata"]["name"] for r in obs.replicasets}
        for o in (obs.target, obs.deployment, obs.statefulset, obs.service):
            if o:
                names.add(o["metadata"]["name"])
        for p in obs.pods:
            for v in p.get("spec", {}).get("volumes", []) or []:
                claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
                if claim:
                    names.add(claim)
        items = _rows(call)
        if call is not None and getattr(call, "truncated", False):
            # too many events in the namespace for one answer: ask per object (field selector), together
            for c in self.run_many(obs, [self._events_command(n) for n in sorted(names)[:MAX_ITEMS]]):
                items += _rows(c)
        obs.events = [e for e in items if e.get("involvedObject", {}).get("name") in names]
        obs.events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")

    def _log_commands(self, obs: Observation) -> list[tuple[str, str]]:
        """(key, command): the previous instance's logs of restarted containers (the crash), the logs of
        running ones that restarted or are unready, and of terminated ones (a Job's failed pod). A few pods
        tell the story: no new container once six reads are planned. When nothing looks wrong, the logs of
        the first Ready, never-restarted containers are read too: a workload can be Ready and still fail
        (Forbidden from the API server, timeouts to a dependency) -- silence there is not "no fault"."""
        out: list[tuple[str, str]] = []
        quiet: list[tuple[str, str]] = []
        for pod in obs.pods:
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
        """Nodes (cluster scope, may be refused) for unschedulable pods and for pods a node may have lost
        (unready while their containers report ready, or being deleted); StorageClasses for pending claims."""
        if not any(p.get("status", {}).get("phase") == "Pending" or _lost(p) for p in obs.pods):
            return
        if obs.nodes is None:
            data = self.get_cluster_json(obs, "nodes")
            obs.nodes = data.get("items", []) if data is not None else None
        if obs.pvcs:
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


def event_rows(table: str) -> list[dict[str, Any]]:
    """`kubectl get events -o custom-columns=EVENT_COLUMNS --no-headers` -> events shaped like the API's (only
    those fields). A line that is not a row continues the message above it (a message with a newline)."""
    out: list[dict[str, Any]] = []
    for line in str(table).splitlines():
        m = _EVENT_ROW.match(line)
        if m is None:
            if out and line.strip():
                out[-1]["message"] = f"{out[-1].get('message', '')}\n{line}"
            continue
        kind, name, reason, type_, count, last, when, message = (None if v in ("<none>", "<nil>") else v for v in m.groups())
        event: dict[str, Any] = {"involvedObject": {"kind": kind, "name": name}, "reason": reason, "type": type_,
                                 "message": message or ""}
        for key, value in (("count", int(count) if count else None), ("lastTimestamp", last), ("eventTime", when)):
            if value is not None:
                event[key] = value
        out.append(event)
    return out


def _rows(call: Any | None) -> list[dict[str, Any]]:
    """The events of a complete answer (a truncated table could end inside a message: not used)."""
    if call is None or getattr(call, "truncated", False):
        return []
    return event_rows(call.output)


def _has_memory_limit(pod_spec: dict[str, Any]) -> bool:
    """Whether a pod (or pod template) spec gives a container a memory limit (usage then tells something)."""
    return any((c.get("resources", {}).get("limits") or {}).get("memory") for c in pod_spec.get("containers", []) or [])


def pod_ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in pod.get("status", {}).get("conditions", []) or [])


def _lost(pod: dict[str, Any]) -> bool:
    """A pod that its node may have lost: being deleted, or unready while every container says ready."""
    st = pod.get("status", {})
    cs = st.get("containerStatuses") or []
    return bool(pod.get("metadata", {}).get("deletionTimestamp")) or (
        st.get("phase") == "Running" and not pod_ready(pod) and bool(cs) and all(c.get("ready") for c in cs))


def _existence(call: Any) -> bool | None:
    """`get -o name`'s answer: found, not found, or unknown (refused, other errors)."""
    if getattr(call, "refused", None):
        return None
    if getattr(call, "ok", False):
        return True
    text = str(getattr(call, "output", ""))
    return False if ("NotFound" in text or "not found" in text) else None


def _strip_marker(text: str) -> str:
    """Drop the Shell tool's truncation marker so it is never quoted as a log line."""
    return "\n".join(ln for ln in str(text).splitlines() if not ln.startswith("...[output truncated"))


def _owned_by(obj: dict[str, Any], kind: str, name: str, uid: str | None) -> bool:
    for o in obj.get("metadata", {}).get("ownerReferences", []) or []:
        if o.get("kind") == kind and o.get("name") == name and (not uid or not o.get("uid") or o.get("uid") == uid):
            return True
    return False


def config_refs(pod: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Names of ConfigMaps and Secrets a pod needs (env, envFrom, volumes), optional ones excluded."""
    cms: set[str] = set()
    secs: set[str] = set()
    spec = pod.get("spec", {})
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for ef in c.get("envFrom", []) or []:
            if ef.get("configMapRef") and not ef["configMapRef"].get("optional"):
                cms.add(ef["configMapRef"]["name"])
            if ef.get("secretRef") and not ef["secretRef"].get("optional"):
                secs.add(ef["secretRef"]["name"])
        for e in c.get("env", []) or []:
            vf = e.get("valueFrom") or {}
            if vf.get("configMapKeyRef") and not vf["configMapKeyRef"].get("optional"):
                cms.add(vf["configMapKeyRef"]["name"])
            if vf.get("secretKeyRef") and not vf["secretKeyRef"].get("optional"):
                secs.add(vf["secretKeyRef"]["name"])
    for v in spec.get("volumes", []) or []:
        if v.get("configMap") and not v["configMap"].get("optional"):
            cms.add(v["configMap"]["name"])
        if v.get("secret") and not v["secret"].get("optional"):
            secs.add(v["secret"]["secretName"])
    return cms, secs
