"""Whether a failure of the newest revision's pods lies in what that revision changed, or outside it.

WHY: an undo returns the pod spec to the previous revision; it heals only a failure the spec change caused. Two
failures begin with a release and are still not the release's: a registry that refuses to serve images (its
certificate, its credentials, its rate limit) refuses the previous revision's images too as soon as a pod lands
on a node without them cached; and pods held back by shared state (a migration waiting on a lock another process
holds, a database out of connection slots) leave that state as it is when they go. An undo there hides the
symptom, so it waits for a human.
"""

from __future__ import annotations

import re
from typing import Any

from .facts import STALLED, failing_pods
from .objects import Observation, pod_name, quote_event, statuses
from .pulls import registry_refused
from .release import revision_facts

IMAGE_IN_MESSAGE = re.compile(r"(?:image|reference) \\?\"([^\"\\]+)\\?\"")


def registry_of(image: str) -> str:
    """The registry host of an image reference (Docker Hub when the first part names no host)."""
    first, _, rest = image.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else "docker.io"


def _pull_texts(obs: Observation, pods: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(quote, message) of the failing pods' pull errors: container waiting messages and their pull events."""
    names = {pod_name(p) for p in pods}
    out = []
    for p in pods:
        for cs in statuses(p):
            w = (cs.get("state") or {}).get("waiting") or {}
            if w.get("reason") in ("ErrImagePull", "ImagePullBackOff") and w.get("message"):
                out.append((f"pod {pod_name(p)} container {cs.get('name')}: {w['reason']} \"{w['message'][:200]}\"",
                            f"{w['message']} image \"{cs.get('image', '')}\""))
    for e in obs.events:
        if e.get("reason") in ("Failed", "ErrImagePull") and e.get("involvedObject", {}).get("name") in names \
                and "pull" in (e.get("message") or "").lower():
            out.append((quote_event(e), e.get("message") or ""))
    return out


def registry_refuses_previous(obs: Observation) -> str | None:
    """The newest revision's pulls are refused by a registry (not for a wrong reference) that also serves the
    previous revision's images."""
    rf = revision_facts(obs)
    if "changes" not in rf:
        return None
    prev_spec = rf["rev"].previous.get("spec", {}).get("template", {}).get("spec", {})
    prev_hosts = {registry_of(c.get("image", "")) for c in (prev_spec.get("containers") or []) + (prev_spec.get("initContainers") or [])}
    for quote, text in _pull_texts(obs, failing_pods(obs)):
        if not registry_refused(text):
            continue
        hosts = {registry_of(i) for i in IMAGE_IN_MESSAGE.findall(text)}
        if hosts & prev_hosts:
            return f"{quote}; the previous revision pulls from {', '.join(sorted(hosts & prev_hosts))} too"
    return None


def waits_on_shared_state(obs: Observation) -> str | None:
    """A failing pod of the newest revision logs that it waits on state other processes hold (a lock, connection
    slots, a pool): leaving it does not release that state."""
    rf = revision_facts(obs)
    if "changes" not in rf:
        return None
    own = {pod_name(p) for p in failing_pods(obs) if rf["rev"].owns(p)}
    for key, text in sorted(obs.logs.items()):
        if key.split("/")[0] not in own:
            continue
        for ln in (text or "").splitlines():
            if STALLED.search(ln):
                return f"log of {key}: \"{ln.strip()[:160]}\""
    return None


def failure_outside_revision(obs: Observation) -> str | None:
    return registry_refuses_previous(obs) or waits_on_shared_state(obs)
