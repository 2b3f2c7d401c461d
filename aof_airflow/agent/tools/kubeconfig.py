"""Where the Shell tool's kubectl and helm find their cluster: the `kubernetes_default` Airflow Connection.

SRE teams keep cluster credentials in that Connection (the cncf-kubernetes provider's extras: `kube_config`,
`kube_config_path`, `in_cluster`, `cluster_context`, `namespace`), read by the provider's KubernetesHook rule.
An inline `kube_config` is written to a private file (0600, in a 0700 directory) for the task and removed
when the agent's toolbox closes. Without the Connection, the worker's own `KUBECONFIG` (or in-cluster
variables) is passed on, as before. Nothing else of the worker's environment reaches the tools.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from aof_airflow.config import settings

log = logging.getLogger("aof.agent")
# what kubectl reads from the environment when no Connection says otherwise
WORKER_KUBE_ENV = ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")
CACHE_ENV = "KUBECACHEDIR"
LEGACY_PREFIX = "extra__kubernetes__"  # extras saved by Airflow < 2.3's UI


class KubeConnectionError(ValueError):
    """The Connection cannot give a kubeconfig; the message says which extra and how to fix it."""


@dataclass
class KubeAccess:
    env: dict[str, str]  # KUBECONFIG, or the in-cluster variables
    source: str  # for the log: where the credentials came from
    _private_dir: Path | None = field(default=None, repr=False)

    def close(self) -> None:
        if self._private_dir is not None:
            shutil.rmtree(self._private_dir, ignore_errors=True)
            self._private_dir = None


def _connection_extras(conn_id: str) -> dict[str, object] | None:
    """The Connection's extras as the provider's KubernetesHook reads them, or None when no such Connection exists.

    Read here with the hook's own rule (`KubernetesHook._get_field`: the plain name if present, else the legacy
    `extra__kubernetes__` prefix) rather than through the hook: importing it pulls in the kubernetes client,
    measured at ~1 s of every Agent task, and the hook would fetch the Connection a second time."""
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    raw = conn.extra_dejson or {}
    names = ("kube_config", "kube_config_path", "in_cluster", "cluster_context", "namespace")
    extras = {n: (raw[n] or None) if n in raw else (raw.get(f"{LEGACY_PREFIX}{n}") or None) for n in names}
    extras["in_cluster"] = str(extras["in_cluster"]).lower() in ("true", "1", "yes") if extras["in_cluster"] else False
    return extras


def kube_access(conn_id: str | None = None) -> KubeAccess:
    conn_id = conn_id or settings().kubernetes_conn_id
    base = {k: os.environ[k] for k in (CACHE_ENV,) if k in os.environ}
    extras = _connection_extras(conn_id)
    if extras is None or not any(extras[k] for k in ("kube_config", "kube_config_path", "in_cluster")):
        env = {k: os.environ[k] for k in WORKER_KUBE_ENV if k in os.environ}
        return KubeAccess({**base, **env}, "worker environment" + (f" (KUBECONFIG={env['KUBECONFIG']})"
                                                                    if "KUBECONFIG" in env else ""))
    chosen = [k for k in ("kube_config", "kube_config_path", "in_cluster") if extras[k]]
    if len(chosen) > 1:
        raise KubeConnectionError(f"Connection {conn_id!r}: extras {', '.join(chosen)} are mutually exclusive; "
                                  "keep one of them")
    if extras["in_cluster"]:
        env = {k: os.environ[k] for k in WORKER_KUBE_ENV[1:] if k in os.environ}
        return KubeAccess({**base, **env}, f"Connection {conn_id!r} (in_cluster)")
    context, namespace = extras["cluster_context"], extras["namespace"]
    if extras["kube_config_path"] and not (context or namespace):
        return KubeAccess({**base, "KUBECONFIG": str(extras["kube_config_path"])},
                          f"Connection {conn_id!r} (kube_config_path)")
    if extras["kube_config"]:
        raw = extras["kube_config"]
        doc = raw if isinstance(raw, dict) else _parse(conn_id, "kube_config", str(raw))
    else:
        path = Path(str(extras["kube_config_path"]))
        try:
            doc = _parse(conn_id, "kube_config_path", path.read_text())
        except OSError as exc:
            raise KubeConnectionError(f"Connection {conn_id!r}: kube_config_path {path}: {exc}") from exc
    doc = _select(conn_id, doc, context, namespace)
    private = Path(tempfile.mkdtemp(prefix="aof-kube-"))  # 0700
    path = private / "kubeconfig"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh)  # JSON is YAML: kubectl reads it
    return KubeAccess({**base, "KUBECONFIG": str(path)}, f"Connection {conn_id!r} (private copy {path})", private)


def _parse(conn_id: str, extra: str, text: str) -> dict:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KubeConnectionError(f"Connection {conn_id!r}: {extra} is not YAML: {exc}") from None
    if not isinstance(doc, dict) or "clusters" not in doc:
        raise KubeConnectionError(f"Connection {conn_id!r}: {extra} is not a kubeconfig (no 'clusters')")
    return doc


def _select(conn_id: str, doc: dict, context: object, namespace: object) -> dict:
    """The kubeconfig with the Connection's `cluster_context` current and its `namespace` as that context's."""
    doc = dict(doc)
    if context:
        names = [c.get("name") for c in doc.get("contexts") or []]
        if context not in names:
            raise KubeConnectionError(f"Connection {conn_id!r}: cluster_context {context!r} is not in the "
                                      f"kubeconfig (contexts: {', '.join(map(str, names)) or 'none'})")
        doc["current-context"] = context
    if namespace:
        current = doc.get("current-context")
        doc["contexts"] = [{**c, "context": {**(c.get("context") or {}), "namespace": namespace}}
                           if c.get("name") == current else c for c in doc.get("contexts") or []]
    return doc
