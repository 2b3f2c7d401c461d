"""One reading of a registry's answer to a failed pull, for the image-pull detector's reason and the undo's
contraindication: a wrong reference is the release's (an undo heals), a refusing registry is not. The messages are
in the format containerd's CRI plugin and the kubelet print (`failed to pull and unpack image ...`)."""

from __future__ import annotations

import pytest

from aof_airflow.agent.rules.pulls import pull_cause, registry_refused

PREFIX = 'rpc error: code = Unknown desc = failed to pull and unpack image "reg.example:5000/api:2": '


@pytest.mark.parametrize("tail,reason,refused", [
    ('failed to resolve reference "reg.example:5000/api:2": reg.example:5000/api:2: not found',
     "the image tag does not exist", False),
    ('failed to resolve reference "reg.example:5000/api:2": pull access denied, repository does not exist or may '
     'require authorization', "registry authentication failed (imagePullSecrets)", False),
    ('failed to resolve reference "reg.example:5000/api:2": failed to authorize: 401 Unauthorized',
     "registry authentication failed (imagePullSecrets)", True),
    ('failed to do request: Head "https://reg.example:5000/v2/api/manifests/2": tls: failed to verify certificate: '
     'x509: certificate signed by unknown authority', "the node does not trust the registry's TLS certificate", True),
    ('failed to copy: httpReadSeeker: failed open: unexpected status code 429 Too Many Requests - Server message: '
     'toomanyrequests: You have reached your pull rate limit', "the registry rate-limits the pulls", True),
    ('failed to do request: Head "https://reg.example:5000/v2/api/manifests/2": dial tcp 10.0.0.9:5000: i/o timeout',
     "the registry cannot be reached", True),
])
def test_the_registrys_answer_names_the_reason_and_who_refused(tail: str, reason: str, refused: bool) -> None:
    cause = pull_cause(PREFIX + tail)
    assert cause is not None and cause[0] == reason
    assert registry_refused(PREFIX + tail) is refused


def test_an_answer_without_a_known_reason_is_not_read_as_a_refusal() -> None:
    assert pull_cause("Back-off pulling image \"reg.example:5000/api:2\"") is None
    assert not registry_refused("Back-off pulling image \"reg.example:5000/api:2\"")
