"""Configuration detectors: images that cannot be pulled, ConfigMaps/Secrets missing, containers the runtime
cannot start, pods the API server refuses (admission webhooks, quota, policy), permissions refused, errors the
application logs while its pods look healthy."""

from __future__ import annotations

import re

from ..facts import ADMISSION, QUOTA, rollout_in_progress
from ..objects import (
    ERROR_LINE,
    Observation,
    config_refs,
    events_for,
    pod_name,
    pod_ready,
    pods_of,
    quote_event,
    statuses,
)
from ..pulls import pull_cause
from ..release import errors_began_with_revision
from ..revisions import revisions
from .common import Finding, note_revision, unread_dependency


def detect_image_pull(obs: Observation) -> Finding | None:
    """ImagePullBackOff / ErrImagePull / InvalidImageName, with the registry's reason (tag, repository, auth)."""
    hits = []
    for p in pods_of(obs):
        for cs in statuses(p):
            w = (cs.get("state") or {}).get("waiting") or {}
            if w.get("reason") in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
                hits.append((p, cs, w))
    if not hits:
        return None
    p, cs, w = hits[0]
    evs = [e for e in events_for(obs, pod_name(p), ("Failed",)) if "pull" in (e.get("message") or "").lower()]
    text = " ".join([w.get("message", "")] + [e.get("message", "") for e in evs])
    why, advice, _ = pull_cause(text) or ("the image could not be pulled", "the registry's reason was not read: check "
                                          "that the image and tag exist and that the pods may pull them (imagePullSecrets)", False)
    ev = [f"pod {pod_name(p)} container {cs['name']}: waiting {w.get('reason')} \"{w.get('message', '')}\", image {cs.get('image')}"]
    ev += [quote_event(e) for e in evs[:2]]
    pods = sorted({pod_name(h[0]) for h in hits})
    f = Finding(
        cls="image-pull", summary=f"image {cs.get('image')} cannot be pulled: {why}", evidence=ev,
        action="none", confidence=0.9 if evs or w.get("message") else 0.75, affected=pods, min_severity="medium",
        advice=advice,
    )
    return note_revision(obs, [h[0] for h in hits], f)


# A resource name as the scheduler writes it ("Insufficient cpu.", "Insufficient nvidia.com/gpu,"): the
# sentence's period or comma is not part of it.
def detect_config_missing(obs: Observation) -> Finding | None:
    """CreateContainerConfigError or FailedMount: a ConfigMap / Secret (or key) the pod needs is missing."""
    hits = []
    for p in pods_of(obs):
        for cs in statuses(p):
            w = (cs.get("state") or {}).get("waiting") or {}
            if w.get("reason") == "CreateContainerConfigError":
                hits.append((p, f"pod {pod_name(p)} container {cs['name']}: waiting CreateContainerConfigError \"{w.get('message', '')}\""))
                break
        else:
            for e in events_for(obs, pod_name(p), ("FailedMount",)):
                if re.search(r"(configmap|secret) \"[^\"]+\" not found", e.get("message") or "", re.I):
                    hits.append((p, quote_event(e)))
                    break
    if not hits:
        return None
    p = hits[0][0]
    ev = [hits[0][1]]
    cms, secs = config_refs(p)
    missing = [f"configmap {n}" for n in sorted(cms) if obs.configmaps.get(n) is False]
    missing += [f"secret {n}" for n in sorted(secs) if obs.secrets.get(n) is False]
    if not missing:
        m = re.findall(r"(configmap|secret) \"([^\"]+)\" not found", " ".join(h[1] for h in hits), re.I)
        missing = sorted({f"{k.lower()} {n}" for k, n in m})
    else:
        ev.append("kubectl get: " + ", ".join(missing) + " NotFound")
    what = ", ".join(missing) if missing else "a referenced ConfigMap/Secret key"
    f = Finding(
        cls="config-missing", summary=f"pods cannot start: {what} missing (CreateContainerConfigError)",
        evidence=ev, action="none", confidence=0.95 if missing else 0.8, affected=sorted({pod_name(h[0]) for h in hits}),
        min_severity="medium", advice=f"create {what} (or fix the reference in the pod template)",
    )
    return note_revision(obs, [h[0] for h in hits], f)


# klog's structured lines escape the quotes of an err="..." value: User \"system:serviceaccount:ns:sa\"
_FORBIDDEN = re.compile(r"forbidden: User \\?\"([^\"\\]+)\\?\" cannot (\w+) resource \\?\"([^\"\\]*)\\?\"", re.I)
_APP_ERROR = re.compile(r"\b(?:ERROR|FATAL|CRITICAL|panic|Exception|Traceback)\b")


def detect_errors_since_release(obs: Observation) -> Finding | None:
    """Ready pods logging errors, all of them the newest revision's, a recent release that changed what the process
    runs with: the release is the suspect, its undo a candidate behind approval (the previous revision's own logs
    are not in a snapshot, so `failures-began-with-new-pods` stays unproven)."""
    why = errors_began_with_revision(obs)
    if not why:
        return None
    erring = [k.split("/")[0] for k, t in sorted(obs.logs.items()) if not k.endswith("/previous") and _APP_ERROR.search(t or "")]
    quotes = [f"log of {k}: \"{ln.strip()[:180]}\"" for k, t in sorted(obs.logs.items()) if not k.endswith("/previous")
              for ln in (t or "").splitlines()[-40:] if _APP_ERROR.search(ln)][-2:]
    return Finding(
        cls="errors-since-release", summary=f"the pods log errors since the newest revision: {why}",
        evidence=[why] + quotes, action="rollout-undo", confidence=0.6, min_severity="medium",
        affected=[obs.workload_ref] if obs.workload_ref else sorted(set(erring)),
        advice="compare what the newest revision changed (kubectl rollout history --revision) with the errors above; "
               "undo it if the change is what the errors name",
    )


def detect_log_errors(obs: Observation) -> Finding | None:
    """Errors in the logs of pods whose status looks fine: RBAC refusals (the ServiceAccount lacks a verb) and, less
    precisely, repeated ERROR/FATAL lines. Never 'no fault' when the application says it is failing."""
    names = {pod_name(p) for p in pods_of(obs) if pod_ready(p) and not any(cs.get("restartCount", 0) for cs in statuses(p))}
    lines = [(key, ln.strip()) for key, text in sorted(obs.logs.items()) if key.split("/")[0] in names
             for ln in (text or "").splitlines() if ln.strip()]
    forbidden = [(k, ln, m) for k, ln in lines for m in [_FORBIDDEN.search(ln)] if m]
    if forbidden:
        k, ln, m = forbidden[-1]
        user, verb, res = m.groups()
        f = Finding(
            cls="rbac-forbidden",
            summary=f"the API server refuses {user} to {verb} {res}: its Role/ClusterRole lacks the verb",
            evidence=[f"log of {k}: \"{ln[:240]}\"", f"{len(forbidden)} Forbidden line(s) in the last {len(lines)} log line(s) read"],
            action="none", confidence=0.9, affected=sorted({k.split('/')[0] for k, _, _ in forbidden}), min_severity="medium",
            advice=f"grant `{verb}` on `{res}` to {user} (Role + RoleBinding); a restart keeps the same permissions",
        )
        return _identity_from_revision(obs, f, user)
    errors = [(k, ln) for k, ln in lines if ERROR_LINE.search(ln)]
    if not errors or len(errors) < 2:
        return None
    outside = unread_dependency(obs, "\n".join(ln for _, ln in errors))
    if outside:
        calls = [(k, ln) for k, ln in errors if outside in ln]
        return Finding(
            cls="dependency-failing",
            summary=f"the pods look healthy but their calls to {outside} fail ({len(calls)} line(s)): {outside} is not a "
                    f"Service of {obs.namespace}, a dependency outside what builtin:k8s-rules reads: not examined",
            evidence=[f"log of {k}: \"{ln[:200]}\"" for k, ln in calls[-2:]] + [f"dependency {outside}: not examined"],
            action="none", confidence=0.4, affected=sorted({k.split('/')[0] for k, _ in calls}), min_severity="medium",
            advice=f"check {outside} (its status page, network path, credentials, rate limits); no change to these pods helps",
        )
    return Finding(
        cls="errors-in-logs",
        summary=f"the pods look healthy but log errors ({len(errors)} line(s)): the cause is in what they report",
        evidence=[f"log of {k}: \"{ln[:200]}\"" for k, ln in errors[-3:]], action="none", confidence=0.4,
        affected=sorted({k.split('/')[0] for k, _ in errors}), min_severity="medium",
        advice="read the application errors above; no automated action is known to fix them",
    )




def detect_admission_refused(obs: Observation) -> Finding | None:
    """The API server refuses the controller's pods: an admission webhook denies them or cannot be called (a
    fail-closed webhook with no endpoints), or a policy forbids them. Quota refusals inside a rollout are the
    rollout's story (`detect_rollout_stuck`); on their own they are reported here too."""
    rolling = bool(obs.deployment and rollout_in_progress(obs.deployment))
    refusals = [e for e in obs.events if e.get("reason") == "FailedCreate" and ADMISSION.search(e.get("message") or "")
                and not (rolling and QUOTA.search(e.get("message") or ""))]
    if not refusals:
        return None
    e = refusals[-1]
    msg = e.get("message") or ""
    hook = re.search(r"webhook \"?([\w.-]+)\"?", msg)
    if QUOTA.search(msg):
        what = "a ResourceQuota refuses the pods"
        advice = "raise the namespace's ResourceQuota or lower the pods' requests; new pods are refused until then"
    elif hook:
        what = f"admission webhook {hook.group(1)} refuses the pods"
        advice = (f"make webhook {hook.group(1)} reachable (its Service needs ready endpoints) or fix what it denies; "
                  "every new pod -- after a restart or an undo too -- is refused the same way")
    else:
        what = "an admission policy refuses the pods"
        advice = "change the pod template to satisfy the policy, or the policy"
    ev = [quote_event(x) for x in refusals[-2:]]
    for w in obs.webhooks or []:
        for h in w.get("webhooks") or []:
            if hook and h.get("name") == hook.group(1):
                svc = (h.get("clientConfig") or {}).get("service") or {}
                ev.append(f"{w.get('kind', 'webhook configuration').lower()}/{w['metadata']['name']}: webhook {h.get('name')} "
                          f"failurePolicy {h.get('failurePolicy', 'Fail')}, service {svc.get('namespace', '?')}/{svc.get('name', '?')}")
    return Finding(
        cls="admission-refused", summary=f"{what}: {len(refusals)} FailedCreate event(s)", evidence=ev, confidence=0.9,
        affected=sorted({x.get("involvedObject", {}).get("name") for x in refusals}), advice=advice,
    )


START_ERRORS = ("CreateContainerError", "RunContainerError", "ContainerCannotRun", "StartError")


def _ends(message: str) -> str:
    """A runtime's message with both ends kept: OCI errors wrap the cause (`no such file or directory`) last."""
    return message if len(message) <= 240 else f"{message[:100]} ... {message[-130:]}"


def detect_container_start_error(obs: Observation) -> Finding | None:
    """The runtime cannot start the container (an executable not found, a bad mount, a security context it
    refuses): the message says what; every new container fails the same way."""
    for p in pods_of(obs):
        for cs in statuses(p):
            w = (cs.get("state") or {}).get("waiting") or {}
            t = (cs.get("lastState") or {}).get("terminated") or {}
            reason, message = (w.get("reason"), w.get("message")) if w.get("reason") in START_ERRORS else \
                (t.get("reason"), t.get("message")) if t.get("reason") in START_ERRORS else (None, None)
            if reason:
                return note_revision(obs, [p], Finding(
                    cls="container-start-error", summary=f"container {cs['name']} cannot be started: {reason}",
                    evidence=[f"pod {pod_name(p)} container {cs['name']}: {reason} \"{_ends(message or '')}\""],
                    confidence=0.85, affected=[pod_name(p)],
                    advice="fix what the runtime reports (command, image entrypoint, mounts, securityContext) in the pod template",
                ))
    return None


def _identity_from_revision(obs: Observation, f: Finding, user: str) -> Finding:
    """The refused ServiceAccount is the one the newest revision switched to: the release changed the pods'
    identity, the previous revision's ServiceAccount is the one that had the permissions (an undo brings it back)."""
    rev = revisions(obs)
    if not rev or not rev.previous or "serviceAccountName" not in rev.changes():
        return f
    def sa(rs: dict) -> str:
        spec = rs.get("spec", {}).get("template", {}).get("spec", {})
        return spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    new, old = sa(rev.newest), sa(rev.previous)
    if not user.endswith(f":{obs.namespace}:{new}"):
        return f
    f.summary += (f"; the newest revision changed the pods' serviceAccountName from {old} to {new} "
                  f"({rev.quote()}): the release, not the role, took the permission away")
    f.evidence.append(rev.quote())
    f.action = "rollout-undo"
    f.advice = f"undo the release (back to ServiceAccount {old}), or grant the refused verb to {new} and keep it"
    return f
