"""What a registry's answer to a failed image pull says, in one table the image-pull detector and the undo's checks
both read. WHY one table: whether the reference is wrong (the previous revision's reference is not: an undo heals)
or the registry refused or could not be reached (it refuses the previous revision's images too, once a pod lands on
a node without them cached) decides both the advice and whether an undo may run.
"""

from __future__ import annotations

import re

# (what the registry answered, the reason, the advice, whether the registry refused rather than the reference)
PULL_CAUSES: tuple[tuple[re.Pattern[str], str, str, bool], ...] = (
    (re.compile(r"unauthorized|authentication required|pull access denied|denied|403 forbidden|no basic auth", re.I),
     "registry authentication failed (imagePullSecrets)", "give the pods a valid imagePullSecret for this registry", True),
    (re.compile(r"manifest unknown|manifest for .* not found|tag .* not found|not found: manifest"
                r"|failed to resolve reference \"[^\"]+:[^\"/]+\": .*not found", re.I),
     "the image tag does not exist", "push the image or point the pod template at a tag that exists", False),
    (re.compile(r"repository .* not found|repository does not exist|name unknown|does not exist", re.I),
     "the image repository does not exist or is unreachable", "fix the image's repository name", False),
    (re.compile(r"no such host", re.I), "the image repository does not exist or is unreachable",
     "fix the image's repository name, or the node's path to its registry", True),
    (re.compile(r"x509|certificate|tls: ", re.I), "the node does not trust the registry's TLS certificate",
     "give the nodes the registry's CA (the container runtime's registry configuration) or fix the certificate", True),
    (re.compile(r"toomanyrequests|too many requests|rate limit", re.I), "the registry rate-limits the pulls",
     "authenticate the pulls or pull from a mirror", True),
    (re.compile(r"i/o timeout|connection refused|503 Service Unavailable", re.I), "the registry cannot be reached",
     "check the nodes' network path to the registry", True),
)


def pull_cause(text: str) -> tuple[str, str, bool] | None:
    """(reason, advice, the registry refused) of the first matching answer; None when the answer says nothing known."""
    return next(((why, advice, registry) for rx, why, advice, registry in PULL_CAUSES if rx.search(text)), None)


def registry_refused(text: str) -> bool:
    """The registry refused or could not be reached, and nothing in the answer says the reference itself is wrong."""
    cause = pull_cause(text)
    return bool(cause and cause[2]) and not any(rx.search(text) for rx, _, _, registry in PULL_CAUSES if not registry)
