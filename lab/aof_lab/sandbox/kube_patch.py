"""The three PATCH flavours kubectl sends: JSON merge patch, strategic merge patch (simplified: lists
of named items merge by name, `$patch: replace` honoured) and RFC 6902 JSON patch (rollout undo)."""

from __future__ import annotations

from copy import deepcopy
from typing import Any


class PatchError(ValueError):
    pass


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return deepcopy(patch)
    out = deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Kubernetes strategic merge, enough for kubectl's own patches (restart, set, undo of sts)."""
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return {k: deepcopy(v) for k, v in patch.items() if k != "$patch"}
        if patch.get("$patch") == "delete":
            return None
        out = deepcopy(target) if isinstance(target, dict) else {}
        for k, v in patch.items():
            if k.startswith("$setElementOrder/") or k.startswith("$retainKeys") or k == "$patch":
                continue
            if k.startswith("$deleteFromPrimitiveList/"):
                field = k.split("/", 1)[1]
                out[field] = [x for x in out.get(field, []) if x not in v]
                continue
            if v is None:
                out.pop(k, None)
                continue
            merged = strategic_merge_patch(out.get(k), v)
            if merged is None and isinstance(v, dict) and v.get("$patch") == "delete":
                out.pop(k, None)
            else:
                out[k] = merged
        return out
    if isinstance(patch, list) and isinstance(target, list) and _named(patch) and _named(target):
        out_list = deepcopy(target)
        for item in patch:
            idx = next((i for i, t in enumerate(out_list) if t.get("name") == item.get("name")), None)
            if item.get("$patch") == "delete":
                if idx is not None:
                    out_list.pop(idx)
            elif idx is None:
                out_list.append({k: v for k, v in item.items() if k != "$patch"})
            else:
                out_list[idx] = strategic_merge_patch(out_list[idx], item)
        return out_list
    return deepcopy(patch)


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(target: Any, ops: list[dict[str, Any]]) -> Any:
    """RFC 6902: add, remove, replace, test, move, copy."""
    doc = deepcopy(target)
    for op in ops:
        kind, parts = op.get("op"), _pointer(op.get("path", ""))
        if kind == "test":
            if _get(doc, parts) != op.get("value"):
                raise PatchError(f"test failed at {op.get('path')}")
            continue
        if kind in ("move", "copy"):
            value = deepcopy(_get(doc, _pointer(op["from"])))
            if kind == "move":
                doc = _remove(doc, _pointer(op["from"]))
            doc = _set(doc, parts, value, insert=True)
        elif kind == "remove":
            doc = _remove(doc, parts)
        elif kind in ("add", "replace"):
            if kind == "replace":
                _get(doc, parts)  # must exist
            doc = _set(doc, parts, deepcopy(op.get("value")), insert=kind == "add")
        else:
            raise PatchError(f"unknown op {kind!r}")
    return doc


def _get(doc: Any, parts: list[str]) -> Any:
    cur = doc
    for p in parts:
        if isinstance(cur, list):
            cur = cur[int(p)]
        elif isinstance(cur, dict) and p in cur:
            cur = cur[p]
        else:
            raise PatchError(f"path /{'/'.join(parts)} does not exist")
    return cur


def _set(doc: Any, parts: list[str], value: Any, insert: bool) -> Any:
    if not parts:
        return value
    parent = _get(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif insert:
            parent.insert(int(last), value)
        else:
            parent[int(last)] = value
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise PatchError(f"cannot set /{'/'.join(parts)}")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    parent = _get(doc, parts[:-1])
    try:
        if isinstance(parent, list):
            parent.pop(int(parts[-1]))
        else:
            del parent[parts[-1]]
    except (KeyError, IndexError, ValueError):
        raise PatchError(f"path /{'/'.join(parts)} does not exist")
    return doc
