"""The kubectl plumbing of a diagnosis: run read-only commands together, parse their JSON (item by item when
a list is too long for the Shell tool's output limit), and say why something could not be read.

WHY apart from the plan (`gather.py`): how to read is the same for every object; what to read depends on the
incident. Only this layer calls the toolbox, and only its public `shell()`: concurrent reads are threads over
it (each call checks its own argv, runs its own process and appends one record; nothing here mutates).
"""

from __future__ import annotations

import json
import re
import shlex
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, Sequence

from .objects import Observation, cpu_millis, label_arg, mem_bytes, selector_matches

# The event fields the detectors read, as a table: a fifth of the characters of the events' JSON, so a
# namespace's events fit the Shell tool's output limit in one answer far more often (one call instead of
# one per object). The message comes last: it is the only column that may contain spaces.
EVENT_COLUMNS = ("KIND:.involvedObject.kind,NAME:.involvedObject.name,REASON:.reason,TYPE:.type,COUNT:.count,"
                 "LAST:.lastTimestamp,TIME:.eventTime,MESSAGE:.message")
_STAMP = r"(\d{4}-\d\d-\d\dT\S+|<none>|<nil>)"
_EVENT_ROW = re.compile(rf"^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+|<none>|<nil>)\s+{_STAMP}\s+{_STAMP}(?:\s+(.*))?$")
READERS = 8  # kubectl processes of one diagnosis running at once
MAX_ITEMS = 8  # per-item reads when a list is too long for the Shell tool's output limit


class Shell(Protocol):
    """The slice of the agent runtime's Toolbox this engine uses."""

    def shell(self, command: str) -> Any:  # -> aof_airflow.agent.types.ToolCall
        ...



class Reader:
    """Runs commands for one namespace and turns their answers into objects (None + a reason when it cannot)."""

    def __init__(self, toolbox: Shell, namespace: str) -> None:
        self.toolbox = toolbox
        self.ns = namespace
        self.calls: list[Any] = []
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: dict[str, Future[Any]] = {}  # started early (`prefetch`), consumed by a later round

    def prefetch(self, commands: Sequence[str]) -> None:
        """Start commands a later round will run, now. WHY: a round waits for its slowest call, so a read that
        depends on one answer (the pods on the target's selector) would otherwise also wait for every other
        call of that round (the namespace's context, six requests in one process). The answer is counted
        when its round consumes it, so a diagnosis's calls and their order are the same as without."""
        for command in commands:
            if command not in self._ahead:
                self._ahead[command] = self._executor().submit(self.toolbox.shell, command)

    def peek(self, command: str) -> Any | None:
        """A prefetched command's answer (waits for it), left for its round to consume; None if not started."""
        future = self._ahead.get(command)
        return future.result() if future is not None else None

    def settle(self, obs: Observation) -> None:
        """Count every prefetched call no round consumed (it ran, so it is reported) and stop the threads."""
        for command, future in list(self._ahead.items()):
            del self._ahead[command]
            try:
                call = future.result()
            except Exception:  # an answer nobody asked for: its failure must not hide the diagnosis's own
                continue
            self.calls.append(call)
            obs.commands.append(command)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="kubectl")
        return self._pool

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
        label = label_arg(selector)
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

    def _optional(self, obs: Observation, what: str, command: str, call: Any) -> dict[str, Any] | None:
        """A context list: its JSON, or None with the reason in `obs.not_read` (refused, not served, cut)."""
        if getattr(call, "refused", None):
            obs.not_read[what] = f"refused: {call.refused}"
            return None
        if not getattr(call, "ok", False):
            lines = [ln for ln in str(getattr(call, "output", "")).strip().splitlines() if not ln.startswith("[exit code")]
            obs.not_read[what] = f"not read: {lines[0][:160] if lines else 'kubectl failed'}"
            return None
        data = self._parse(call)
        if data is None:
            obs.not_read[what] = "not read: the answer was cut by the Shell tool's output limit"
        return data

    def _nodes_command(self) -> str:
        """Only the node fields a diagnosis reads, one line per node, so the output limit does not cut them."""
        path = ('{range .items[*]}{.metadata.name}{"\\t"}{.metadata.labels}{"\\t"}{.spec.unschedulable}{"\\t"}'
                '{range .spec.taints[*]}{.key}={.value}:{.effect},{end}{"\\t"}'
                '{range .status.conditions[*]}{.type}={.status}:{.reason}@{.lastTransitionTime}~{.lastHeartbeatTime},{end}{"\\t"}'
                '{.status.allocatable}{"\\n"}{end}')
        return f"kubectl get nodes -o {shlex.quote('jsonpath=' + path)}"

    @staticmethod
    def _absorb_nodes(obs: Observation, call: Any) -> None:
        if getattr(call, "refused", None) or not getattr(call, "ok", False) or getattr(call, "truncated", False):
            why = getattr(call, "refused", None) or ("cut by the output limit" if getattr(call, "truncated", False)
                                                     else str(getattr(call, "output", "")).strip()[:160])
            obs.not_read["Nodes"] = f"not read: {why}"
            return
        nodes = []
        for line in str(call.output).splitlines():
            parts = line.split("\t")
            if len(parts) < 6 or not parts[0]:
                continue
            name, labels, unsched, taints, conds, alloc = parts[:6]
            node: dict[str, Any] = {"metadata": {"name": name, "labels": _json_map(labels)},
                                    "spec": {"unschedulable": unsched == "true", "taints": []},
                                    "status": {"conditions": [], "allocatable": _json_map(alloc)}}
            for t in filter(None, taints.split(",")):
                kv, _, effect = t.rpartition(":")
                key, _, value = kv.partition("=")
                node["spec"]["taints"].append({"key": key, "value": value, "effect": effect})
            for c in filter(None, conds.split(",")):
                head, _, times = c.partition("@")
                since, _, beat = times.partition("~")
                ctype, _, rest = head.partition("=")
                status, _, reason = rest.partition(":")
                node["status"]["conditions"].append({"type": ctype, "status": status, "reason": reason,
                                                     "lastTransitionTime": since, "lastHeartbeatTime": beat or None})
            nodes.append(node)
        obs.nodes = nodes

    def _round(self, obs: Observation, commands: Sequence[str]) -> list[Any]:
        """The commands run at the same time (threads over the toolbox's `shell`, which is safe for concurrent
        reads: each call checks its argv, runs its own process and appends one record), answers in order; a
        command already started by `prefetch` is not run again."""
        futures = [self._ahead.pop(c, None) for c in commands]
        if sum(f is None for f in futures) > 1:
            futures = [f or self._executor().submit(self.toolbox.shell, c) for c, f in zip(commands, futures)]
        calls = [f.result() if f is not None else self.toolbox.shell(c) for c, f in zip(commands, futures)]
        for command, call in zip(commands, calls):
            self.calls.append(call)
            obs.commands.append(command)
        return calls

    def _checked(self, obs: Observation, command: str, call: Any) -> Any | None:
        """`run_many`'s verdict for a call made in a mixed round."""
        if getattr(call, "refused", None):
            obs.errors.append(f"{command}: refused: {call.refused}")
            return None
        if not getattr(call, "ok", False):
            obs.errors.append(f"{command}: {str(getattr(call, 'output', ''))[:300]}")
            return None
        return call

    def _events_command(self, involved: str | None = None) -> str:
        about = f" --field-selector involvedObject.name={shlex.quote(involved)}" if involved else ""
        return f"kubectl get events -n {shlex.quote(self.ns)}{about} --no-headers -o custom-columns={EVENT_COLUMNS}"

    @staticmethod
    def _set_context(obs: Observation, data: dict[str, dict[str, Any] | None]) -> None:
        for field_name, answer in data.items():
            items = None if answer is None else answer.get("items", [])
            if field_name == "endpoints":
                obs.endpoints_of = {e["metadata"]["name"]: e for e in items or []}
            else:
                setattr(obs, field_name, items)

    @staticmethod
    def _absorb_metrics(obs: Observation, call: Any) -> None:
        if not getattr(call, "ok", False):
            obs.not_read["pod usage (kubectl top)"] = "metrics API not served or refused"
            return
        names = {p["metadata"]["name"] for p in obs.pods if p.get("status", {}).get("phase") == "Running"}
        for line in str(call.output).splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] in names:
                cpu, mem = cpu_millis(parts[1]), mem_bytes(parts[2])
                if mem is not None:
                    obs.memory_usage[parts[0]] = mem
                if cpu is not None:
                    obs.cpu_usage[parts[0]] = cpu

    def _absorb_events(self, obs: Observation, call: Any | None) -> None:
        """Namespace events about the target, its pods, ReplicaSets, PVCs (filtered client-side)."""
        names = {p["metadata"]["name"] for p in obs.pods} | {r["metadata"]["name"] for r in obs.replicasets}
        for o in (obs.target, obs.deployment, obs.statefulset, obs.daemonset, obs.service):
            if o:
                names.add(o["metadata"]["name"])
        for o in (obs.job or {}).get("metadata", {}).get("ownerReferences") or []:
            names.add(o.get("name"))  # a Job's CronJob: JobAlreadyActive, missed schedules
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
        # pods of the same ReplicaSets that are gone now: why they went (preempted, evicted) explains their replacements
        gone = tuple({f"{o.get('name')}-" for p in obs.pods for o in p["metadata"].get("ownerReferences") or []
                      if o.get("kind") == "ReplicaSet"} | {f"{r['metadata']['name']}-" for r in obs.replicasets})
        obs.events = [e for e in items if e.get("involvedObject", {}).get("name") in names
                      or (gone and e.get("reason") in LOST_POD_REASONS and (e.get("involvedObject", {}).get("name") or "").startswith(gone))]
        obs.events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")


LOST_POD_REASONS = ("Preempted", "Evicted", "TaintManagerEviction")  # events that say why a pod is gone


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


def _json_map(text: str) -> dict[str, Any]:
    try:
        v = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return v if isinstance(v, dict) else {}


def _json_list(text: str) -> list[Any] | None:
    try:
        v = json.loads(text)
    except ValueError:
        return None
    return v if isinstance(v, list) else None
