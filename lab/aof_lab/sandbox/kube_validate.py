"""What the API server's validation refuses on the objects remediation writes, as the real Status object.

A patch or update that leaves a workload with negative replicas, a container without an image, or a
resource quantity Kubernetes cannot parse (`512Mx`) or a negative one is answered 422 `Invalid`, with
`details.causes` naming each field, exactly as kube-apiserver shapes it:

    {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Invalid", "code": 422,
     "message": "Deployment.apps \"api\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0",
     "details": {"name": "api", "group": "apps", "kind": "Deployment",
                 "causes": [{"reason": "FieldValueInvalid", "message": "Invalid value: -1: ...", "field": "spec.replicas"}]}}
"""

from __future__ import annotations

import json
import re
from typing import Any

Obj = dict[str, Any]
QUANTITY_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"  # the regex kube-apiserver quotes
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_SUFFIXES = {"", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}
_EXPONENT = re.compile(r"[eE][+-]?[0-9]+")
WORKLOADS = ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet")


def quantity_error(value: Any) -> str | None:
    """Why `value` is not a Kubernetes resource.Quantity (or is negative), None when it is one."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return f"quantities must match the regular expression '{QUANTITY_RE}'"
    text = str(value)
    m = _NUMBER.match(text)
    suffix = text[m.end():] if m else None
    if m is None or (suffix not in _SUFFIXES and not _EXPONENT.fullmatch(suffix)):
        return f"quantities must match the regular expression '{QUANTITY_RE}'"
    if m.group(0).startswith("-") and float(m.group(0)) != 0:
        return "must be greater than or equal to 0"
    return None


def _shown(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def _invalid(field: str, value: Any, why: str) -> dict[str, str]:
    return {"reason": "FieldValueInvalid", "message": f"Invalid value: {_shown(value)}: {why}", "field": field}


def _required(field: str) -> dict[str, str]:
    return {"reason": "FieldValueRequired", "message": "Required value", "field": field}


def _pod_spec_causes(spec: Any, at: str) -> list[dict[str, str]]:
    causes: list[dict[str, str]] = []
    if not isinstance(spec, dict):
        return causes
    for key in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(key) or []):
            where = f"{at}.{key}[{i}]"
            if not isinstance(c, dict):
                causes.append(_invalid(where, c, "must be an object"))
                continue
            if not str(c.get("name") or "").strip():
                causes.append(_required(f"{where}.name"))
            if not str(c.get("image") or "").strip():
                causes.append(_required(f"{where}.image"))
            resources = c.get("resources") or {}
            for kind in ("limits", "requests"):
                for name, value in (resources.get(kind) or {}).items():
                    why = quantity_error(value)
                    if why:
                        causes.append(_invalid(f"{where}.resources.{kind}[{name}]", value, why))
    return causes


def causes(obj: Obj) -> list[dict[str, str]]:
    """Every field of `obj` the API server's validation would refuse."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    found: list[dict[str, str]] = []
    if kind in WORKLOADS:
        if "replicas" in spec and kind != "DaemonSet":
            r = spec["replicas"]
            if isinstance(r, bool) or not isinstance(r, int):
                found.append(_invalid("spec.replicas", r, "must be an integer"))
            elif r < 0:
                found.append(_invalid("spec.replicas", r, "must be greater than or equal to 0"))
        found += _pod_spec_causes((spec.get("template") or {}).get("spec"), "spec.template.spec")
    elif kind == "Pod":
        found += _pod_spec_causes(spec, "spec")
    return found


def invalid_status(obj: Obj, found: list[dict[str, str]]) -> Obj:
    """The Status body kube-apiserver answers for an invalid object (code 422, reason Invalid)."""
    kind = obj.get("kind") or ""
    group = str(obj.get("apiVersion") or "").rpartition("/")[0]
    name = (obj.get("metadata") or {}).get("name") or ""
    parts = [f"{c['field']}: {c['message']}" for c in found]
    what = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    qualified = f"{kind}.{group}" if group else kind
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f'{qualified} "{name}" is invalid: {what}', "reason": "Invalid",
            "details": {"name": name, **({"group": group} if group else {}), "kind": kind, "causes": found},
            "code": 422}
