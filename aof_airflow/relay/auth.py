"""Request authentication: the seed's Bearer token and PagerDuty v3 `X-PagerDuty-Signature`.

Every comparison is constant-time (`hmac.compare_digest`) so response timing leaks nothing about a
secret. Missing credentials -> 401; credentials present but wrong -> 403.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class AuthFailure:
    status: int  # 401 missing / malformed, 403 wrong
    reason: str


def check_bearer(authorization: str | None, expected: str) -> AuthFailure | None:
    if not authorization:
        return AuthFailure(401, "missing Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return AuthFailure(401, "Authorization must be 'Bearer <token>'")
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        return AuthFailure(403, "invalid bearer token")
    return None


def sign(body: bytes, secret: str) -> str:
    """PagerDuty v3: `v1=` + hex HMAC-SHA256 of the raw body with the subscription's secret."""
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_signature(header: str | None, body: bytes, secrets: Iterable[str]) -> AuthFailure | None:
    """Valid if any `v1=` value in the header matches any configured secret (rotation on both sides)."""
    if not header:
        return AuthFailure(401, "missing X-PagerDuty-Signature header")
    offered = [s.strip() for s in header.split(",") if s.strip().startswith("v1=")]
    if not offered:
        return AuthFailure(401, "X-PagerDuty-Signature has no v1= signature")
    ok = False
    for secret in secrets:
        want = sign(body, secret).encode()
        for sig in offered:
            # no early exit: the time taken does not depend on which value matched
            ok |= hmac.compare_digest(sig.encode(), want)
    return None if ok else AuthFailure(403, "signature does not match")
