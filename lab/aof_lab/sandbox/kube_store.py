"""The simulated cluster's object store: objects by (group, plural, namespace, name), resourceVersions,
label/field selectors, and an event log that watches stream from."""

from __future__ import annotations

import re
import threading
import uuid
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from aof_lab.sandbox.kube_resources import BY_KIND, ResourceType
from aof_lab.sandbox.scenario import Scenario

Key = tuple[str, str, str, str]  # group, plural, namespace ("" if cluster-scoped), name
TS_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
# klog's line header (Kubernetes components, client-go users): level, MMDD hh:mm:ss.micro, no year
KLOG_RE = re.compile(r"(?m)^([IWEF])(\d\d)(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6})")
# nginx: the error log's line header (2026/11/18 13:59:00) and the access log's [18/Nov/2026:13:59:00 +0000]
NGINX_ERROR_RE = re.compile(r"(?m)^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d")
NGINX_ACCESS_RE = re.compile(r"\[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d) \+0000\]")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def key_of(rt: ResourceType, namespace: str, name: str) -> Key:
    return (rt.group, rt.plural, namespace if rt.namespaced else "", name)


@dataclass
class WatchEvent:
    rv: int
    type: str
    key: Key
    obj: dict[str, Any]


class Store:
    """Thread-safe object store; `cond` is notified on every write so watches wake up."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.objects: dict[Key, dict[str, Any]] = {}
        self.owner: dict[Key, str] = {}  # object -> scenario name it came from
        self.rv = 0
        self.log: list[WatchEvent] = []

    # ----- reads ----------------------------------------------------------------------------------
    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            obj = self.objects.get(key_of(rt, namespace, name))
            return deepcopy(obj) if obj else None

    def list(self, rt: ResourceType, namespace: str | None = None, label_selector: str = "",
             field_selector: str = "") -> list[dict[str, Any]]:
        with self.lock:
            out = [deepcopy(o) for k, o in self.objects.items()
                   if k[:2] == rt.key and (not namespace or not rt.namespaced or k[2] == namespace)
                   and matches(o, label_selector, field_selector)]
        return sorted(out, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))

    def events_since(self, rv: int) -> list[WatchEvent]:
        with self.lock:
            return [e for e in self.log if e.rv > rv]

    # ----- writes ---------------------------------------------------------------------------------
    def _bump(self, obj: dict[str, Any]) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)

    def put(self, obj: dict[str, Any], scenario: str | None = None) -> dict[str, Any]:
        """Create or replace; fills the metadata an API server would."""
        rt = BY_KIND[obj["kind"]]
        meta = obj.setdefault("metadata", {})
        key = key_of(rt, meta.get("namespace", ""), meta["name"])
        with self.lock:
            existed = key in self.objects
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now_iso())
            self._bump(obj)
            self.objects[key] = obj
            if scenario:
                self.owner[key] = scenario
            self.log.append(WatchEvent(self.rv, "MODIFIED" if existed else "ADDED", key, deepcopy(obj)))
            self.cond.notify_all()
            return deepcopy(obj)

    def delete(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        key = key_of(rt, namespace, name)
        with self.lock:
            obj = self.objects.pop(key, None)
            self.owner.pop(key, None)
            if obj is None:
                return None
            self._bump(obj)
            self.log.append(WatchEvent(self.rv, "DELETED", key, deepcopy(obj)))
            self.cond.notify_all()
            return obj

    def delete_scenario(self, scenario: str) -> None:
        """Delete every object the scenario loaded or its workloads' controllers created since."""
        with self.lock:
            for key in [k for k, owner in self.owner.items() if owner == scenario]:
                self.owner.pop(key)
                obj = self.objects.pop(key)
                self._bump(obj)
                self.log.append(WatchEvent(self.rv, "DELETED", key, deepcopy(obj)))
            self.cond.notify_all()

    def scenario_of(self, obj: dict[str, Any]) -> str | None:
        rt = BY_KIND[obj["kind"]]
        return self.owner.get(key_of(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))

    # ----- loading --------------------------------------------------------------------------------
    def load(self, scenario: Scenario) -> None:
        """Add a scenario's objects, timestamps shifted to now, missing metadata filled in."""
        shift = (datetime.now(timezone.utc) - scenario.captured_at) if scenario.captured_at else timedelta(0)
        default_ns = scenario.incident.namespace
        objs = [shift_timestamps(deepcopy(o), shift) for o in scenario.objects]
        namespaces = {"default", "kube-system"}
        with self.lock:
            for o in objs:
                rt = BY_KIND[o["kind"]]
                meta = o["metadata"]
                if rt.namespaced:
                    meta.setdefault("namespace", default_ns)
                    namespaces.add(meta["namespace"])
                else:
                    meta.pop("namespace", None)
                if o["kind"] in ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet"):
                    meta.setdefault("generation", 1)
                if key_of(rt, meta.get("namespace", ""), meta["name"]) not in self.objects:  # shared: first wins
                    self.put(o, scenario.name if rt.namespaced else None)
            for ns in sorted(namespaces):
                if not self.get(BY_KIND["Namespace"], "", ns):
                    self.put({"apiVersion": "v1", "kind": "Namespace",
                              "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                              "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
            self._resolve_owner_uids()

    def _resolve_owner_uids(self) -> None:
        """Scenario authors name owners by kind+name; the API (and kubectl undo) needs their uids."""
        for obj in self.objects.values():
            ns = obj["metadata"].get("namespace", "")
            for ref in obj["metadata"].get("ownerReferences", []) or []:
                if ref.get("uid") or ref.get("kind") not in BY_KIND:
                    continue
                owner = self.objects.get(key_of(BY_KIND[ref["kind"]], ns, ref.get("name", "")))
                if owner:
                    ref["uid"] = owner["metadata"]["uid"]
            involved = obj.get("involvedObject") if obj.get("kind") == "Event" else None
            if involved and not involved.get("uid") and involved.get("kind") in BY_KIND:
                target = self.objects.get(key_of(BY_KIND[involved["kind"]], involved.get("namespace", ns), involved.get("name", "")))
                if target:
                    involved["uid"] = target["metadata"]["uid"]


def shift_timestamps(value: Any, shift: timedelta) -> Any:
    """Move every RFC 3339 timestamp by `shift`, so a captured scenario's ages read as current."""
    if not shift:
        return value
    if isinstance(value, dict):
        return {k: shift_timestamps(v, shift) for k, v in value.items()}
    if isinstance(value, list):
        return [shift_timestamps(v, shift) for v in value]
    if isinstance(value, str) and TS_RE.fullmatch(value):
        return (parse_ts(value) + shift).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def shift_text(text: str, shift: timedelta) -> str:
    """Same shift for timestamps inside log text: RFC 3339 (millisecond precision kept), klog and nginx line headers, nginx access times."""
    if not shift:
        return text

    def repl(m: re.Match[str]) -> str:
        t = parse_ts(m.group(0)) + shift
        return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{t.microsecond // 1000:03d}Z" if "." in m.group(0) else "Z")

    def klog(m: re.Match[str]) -> str:
        level, *parts = m.groups()
        month, day, hour, minute, second, micro = map(int, parts)
        year = (datetime.now(timezone.utc) - shift).year  # the capture's year: klog headers carry none
        t = datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone.utc) + shift
        return f"{level}{t:%m%d %H:%M:%S}.{t.microsecond:06d}"

    def nginx_error(m: re.Match[str]) -> str:
        return f"{datetime.strptime(m.group(0), '%Y/%m/%d %H:%M:%S') + shift:%Y/%m/%d %H:%M:%S}"

    def nginx_access(m: re.Match[str]) -> str:
        return f"[{datetime.strptime(m.group(1), '%d/%b/%Y:%H:%M:%S') + shift:%d/%b/%Y:%H:%M:%S} +0000]"

    text = NGINX_ACCESS_RE.sub(nginx_access, NGINX_ERROR_RE.sub(nginx_error, text))
    return KLOG_RE.sub(klog, TS_RE.sub(repl, text))


# ----- selectors ------------------------------------------------------------------------------------
def _field(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    return "" if cur is None else str(cur)


def matches(obj: dict[str, Any], label_selector: str = "", field_selector: str = "") -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(_label_term(labels, t) for t in split_selector(label_selector)) and \
        all(_field_term(obj, t) for t in split_selector(field_selector))


def split_selector(sel: str) -> Iterator[str]:
    """Split on commas outside parentheses (`env in (a,b),app=api`)."""
    depth, cur = 0, ""
    for ch in sel or "":
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            if cur.strip():
                yield cur.strip()
            cur = ""
        else:
            cur += ch
    if cur.strip():
        yield cur.strip()


def _label_term(labels: dict[str, str], term: str) -> bool:
    m = re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", term)
    if m:
        values = {v.strip() for v in m.group(3).split(",")}
        present = m.group(1) in labels and labels[m.group(1)] in values
        return present if m.group(2) == "in" else not present
    m = re.fullmatch(r"([\w./-]+)\s*(==|!=|=)\s*([\w./-]*)", term)
    if m:
        equal = labels.get(m.group(1)) == m.group(3)
        return not equal if m.group(2) == "!=" else equal
    if term.startswith("!"):
        return term[1:].strip() not in labels
    return term in labels


def _field_term(obj: dict[str, Any], term: str) -> bool:
    m = re.fullmatch(r"([\w.{}\[\]-]+)\s*(==|!=|=)\s*(.*)", term)
    if not m:
        return False
    equal = _field(obj, m.group(1)) == m.group(3)
    return not equal if m.group(2) == "!=" else equal


def selector_string(match_labels: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((match_labels or {}).items()))
