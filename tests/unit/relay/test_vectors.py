"""Published webhook vectors (../shared/corpora/relay-2026-12 and relay-2026-11), each sent to the relay and
judged by what the real service expects of a receiver (`expect`). Read from the corpora, never copied here.

relay-2026-12: one JSON per vector (request + `expect`); `flows.yaml` holds the flows some are sent to, beside
the tutorial's flow on /pagerduty/webhook; group G1 uses the README's secrets, G2 go-pagerduty's published
one. `informational` vectors (the service would not send them to these routes) are sent and must not crash
the relay (no 5xx), but are counted apart. relay-2026-11: signed deliveries must verify (or not) as their
`expect_valid` says, documented envelopes of incident events start a run on an `incident.*` flow and the
others are answered 2xx and ignored; the Slack signing example verifies; bolt's block_actions is ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from aof_airflow.relay import auth, secrets
from aof_airflow.relay.app import create_app
from aof_airflow.relay.ingress import verify_slack
from aof_airflow.relay.settings import RelaySettings
from aof_airflow.spec.loader import load_paths
from tests.locations import SEED_FLOW, corpus

G1 = {"PAGERDUTY_WEBHOOK_TOKEN": "holdout2-webhook-token-7f3a", "PAGERDUTY_SIGNING_SECRET": "holdout2-pd-secret-A",
      "AOF_SLACK_SIGNING_SECRET": "holdout2-slack-signing-secret"}
TALLY: dict[str, list[str]] = {"judged right": [], "informational, no 5xx": []}


def _go_pagerduty_secret() -> str:
    return json.loads((corpus("relay-2026-11") / "pagerduty/gopagerduty_valid.json").read_text())["secret"]


def _relay(tmp_path: Path, monkeypatch, standin, flows_yaml: str, signing: list[str]) -> TestClient:
    d = tmp_path / "flows"
    d.mkdir(exist_ok=True)
    (d / "seed.yaml").write_text(SEED_FLOW.read_text())
    (d / "vectors.yaml").write_text(flows_yaml)
    loaded = load_paths([d], check_graph=False)
    assert not loaded.problems, loaded.problems
    for k, v in G1.items():
        monkeypatch.setenv(k, v)
    secrets.clear_cache()
    settings = RelaySettings(airflow_api_url=standin.url, airflow_username="admin", airflow_password="admin",
                             database_url=f"sqlite:///{tmp_path / 'relay.db'}", start_dispatcher=False,
                             pagerduty_signing_secrets=tuple(signing), max_body_bytes=262144)
    app = create_app(flows=dict(loaded.flows), settings=settings)
    client = TestClient(app)
    client.relay = app.state.relay
    return client


# ----------------------------------------------------------------------------------------- relay-2026-12


def _base_body(folder: Path, base: str) -> dict:
    """The body a recipe builds on: the vector whose source is that fixture, unedited."""
    for f in sorted((folder / "pagerduty").glob("*.json")):
        v = json.loads(f.read_text())
        if v["source"].get("path", "").endswith("/" + base) and v.get("edits") in ("none", "none to the body"):
            return json.loads(v["request"]["body"])
    raise AssertionError(f"no vector carries {base}")


def _padded(base: dict, incident_id: str, field: str, total: int) -> bytes:
    body = json.loads(json.dumps(base))
    body["event"]["data"]["id"] = incident_id
    body["event"]["data"][field] = ""
    n = total - len(json.dumps(body).encode())
    body["event"]["data"][field] = "x" * n
    raw = json.dumps(body).encode()
    assert len(raw) == total
    return raw


def _bodies(folder: Path, req: dict) -> list[bytes]:
    if "body" in req:
        return [req["body"].encode()]
    recipe = req["body_recipe"]
    base = _base_body(folder, recipe["base"])
    if "burst" in recipe:
        out = []
        for i in range(1, recipe["burst"] + 1):
            body = json.loads(json.dumps(base))
            iid = f"{recipe['id_prefix']}{i:02d}"
            body["event"]["data"]["id"] = iid
            body["event"]["id"] = f"01{iid}EVENT"
            out.append(json.dumps(body).encode())
        return out
    return [_padded(base, recipe["incident_id"], recipe["pad_field"], recipe["total_bytes"])]


def _signed_headers(req: dict, body: bytes) -> dict[str, str]:
    headers = dict(req["headers"])
    sign = req.get("sign") or {"scheme": "none"}
    scheme = sign["scheme"]
    if scheme == "pagerduty-v1":
        headers["X-PagerDuty-Signature"] = sign.get("prefix", "") + ",".join(auth.sign(body, s) for s in sign["secrets"])
    elif scheme == "literal":
        headers["X-PagerDuty-Signature"] = sign["header"]
    elif scheme == "slack-v0":
        ts = sign["timestamp"]
        now = int(time.time())
        ts = str(now + int(ts[3:]) if ts != "now" else now)
        headers["X-Slack-Request-Timestamp"] = ts
        headers["X-Slack-Signature"] = "v0=" + hmac.new(sign["secret"].encode(), f"v0:{ts}:".encode() + body,
                                                        hashlib.sha256).hexdigest()
    else:
        assert scheme == "none", scheme
    return headers


def _judge(vector: dict, status: int, answer: dict) -> str | None:
    """None when the answer is what `expect` says; else what is wrong."""
    exp = vector["expect"]
    want_status, outcome = exp["status"], exp["outcome"]
    if want_status == "2xx" and not 200 <= status < 300:
        return f"status {status}, expected 2xx"
    if want_status.isdigit() and status != int(want_status):
        return f"status {status}, expected {want_status}"
    if want_status == "4xx-or-2xx" and not (200 <= status < 300 or 400 <= status < 500):
        return f"status {status}, expected 4xx or 2xx"
    got = answer.get("status")
    slack = vector["service"] == "slack"
    if outcome == "accepted" and got != "accepted":
        return f"answer {answer}, expected accepted"
    if outcome == "accepted-or-duplicate" and got not in ("accepted", "duplicate"):
        return f"answer {answer}, expected accepted or duplicate"
    if outcome == "duplicate":
        if slack and not (answer.get("duplicate") and not answer.get("started")):
            return f"answer {answer}, expected the run already stored"
        if not slack and got != "duplicate":
            return f"answer {answer}, expected duplicate"
    if outcome == "ignored":
        if slack and not answer.get("ignored") and answer.get("recorded", 0) != 0:
            return f"answer {answer}, expected nothing recorded"
        if slack and answer.get("started"):
            return f"answer {answer}, expected no run"
        if not slack and got != "ignored":
            return f"answer {answer}, expected ignored"
    if outcome == "started" and not answer.get("started"):
        return f"answer {answer}, expected a run stored"
    if outcome == "challenge" and answer != {"challenge": json.loads(vector["request"]["body"])["challenge"]}:
        return f"answer {answer}, expected the challenge"
    return None


def test_relay_2026_12_vectors(tmp_path, monkeypatch, standin):
    folder = corpus("relay-2026-12")
    client = _relay(tmp_path, monkeypatch, standin, (folder / "flows.yaml").read_text(),
                    ["holdout2-pd-secret-A", _go_pagerduty_secret()])
    vectors = [json.loads(f.read_text()) for sub in ("pagerduty", "slack") for f in sorted((folder / sub).glob("*.json"))]
    assert len(vectors) == 53
    wrong, accepted_runs = [], {}
    for v in vectors:
        req = v["request"]
        bodies = _bodies(folder, req)

        def send(body: bytes, req=req) -> tuple[int, dict, float]:
            t0 = time.monotonic()
            r = client.request(req["method"], req["path"], content=body, headers=_signed_headers(req, body))
            try:
                answer = r.json()
            except ValueError:
                answer = {"body": r.text}
            return r.status_code, answer if isinstance(answer, dict) else {"body": answer}, time.monotonic() - t0

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(send, bodies))
        for status, answer, seconds in results:
            problem = _judge(v, status, answer)
            if seconds > v["expect"]["within_seconds"]:
                problem = f"answered in {seconds:.1f}s"
            if v.get("informational") or v["expect"].get("informational"):
                problem = f"status {status}" if status >= 500 else None
            if problem:
                wrong.append((v["id"], problem))
            if answer.get("status") == "accepted":
                accepted_runs[answer["dag_run_id"]] = v["id"]
        informational = v.get("informational") or v["expect"].get("informational")
        TALLY["informational, no 5xx" if informational else "judged right"].append(v["id"])
    assert not wrong, wrong
    # what was accepted becomes a run: the burst's 40 rows and every other accepted delivery
    rows = client.relay.outbox.rows()
    assert sum(1 for r in rows if r["incident_id"].startswith("PBURST")) == 40
    while client.relay.dispatcher.run_once():
        pass
    runs = {run_id for _, run_id in standin.runs_snapshot()}
    assert set(accepted_runs) <= runs, sorted(set(accepted_runs) - runs)
    assert {"pd-PFQZPSY", "pd-PHOLD2FUT", "pd-PHOLD2S55", "pd-PHOLD2S256", "pd-PHOLD2S262", "pd-PHOLD2UNI",
            "pd-Q05XJA8GDXGOB3"} <= runs
    reopened = [r for r in runs if r.startswith("pd-Q05XJA8GDXGOB3-reopened-")]
    assert len(reopened) == 1  # the reopened incident ran again
    assert any(r.startswith("pd-Q3B15VLMF3ASBD-workflow_started-") for r in runs)  # service_ids on a sub-event
    judged = len(vectors) - len(TALLY["informational, no 5xx"])
    print(f"\nrelay-2026-12: {len(TALLY['judged right'])}/{judged} judged vectors answered as expected; "
          f"{len(TALLY['informational, no 5xx'])} informational answered without a 5xx")


# ----------------------------------------------------------------------------------------- relay-2026-11

INCIDENT_FLOW = """
apiVersion: aof.dev/v1
kind: AgentFlow
metadata: {name: pd-incident-events}
spec:
  trigger:
    type: PagerDuty
    config: {path: /pd/all, events: ["incident.*"]}
  nodes: [{id: a, type: Transform, config: {script: "true"}}]
"""


def test_relay_2026_11_vectors(tmp_path, monkeypatch, standin):
    folder = corpus("relay-2026-11")
    pd = [json.loads(f.read_text()) for f in sorted((folder / "pagerduty").glob("*.json"))]
    own_secret = "relay-2026-11-test-secret"  # the unsigned documented samples are signed with it
    client = _relay(tmp_path, monkeypatch, standin, INCIDENT_FLOW,
                    [own_secret] + sorted({v["secret"] for v in pd if "secret" in v}))
    wrong, n = [], 0
    for v in pd:
        body = v["body"].encode()
        signature = v.get("signature") or auth.sign(body, own_secret)
        r = client.post("/pd/all", content=body, headers={"Content-Type": "application/json",
                                                          "X-PagerDuty-Signature": signature})
        event = json.loads(body)["event"]
        names_incident = event.get("resource_type") == "incident"
        if v.get("expect_valid") is False:
            ok = r.status_code == 403
        elif names_incident:
            ok = r.status_code == 202 and r.json()["status"] in ("accepted", "duplicate")
        else:
            ok = r.status_code == 202 and r.json()["status"] == "ignored"
        n += 1
        if not ok:
            wrong.append((v["name"], r.status_code, r.text[:200]))
    example = json.loads((folder / "slack/slack_doc_signing_example.json").read_text())
    headers = {"x-slack-request-timestamp": example["timestamp"], "x-slack-signature": example["signature"]}
    verify_slack([example["signing_secret"]], headers, example["body"].encode(), now=float(example["timestamp"]) + 1)
    with pytest.raises(Exception, match="bad Slack signature"):
        verify_slack([example["signing_secret"]], headers, example["body"].encode() + b"x",
                     now=float(example["timestamp"]) + 1)
    n += 1
    bolt = json.loads((folder / "slack/bolt_block_actions_payload.json").read_text())
    form = urlencode({"payload": json.dumps(bolt["payload"])}).encode()
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(G1["AOF_SLACK_SIGNING_SECRET"].encode(), f"v0:{ts}:".encode() + form,
                           hashlib.sha256).hexdigest()
    r = client.post("/slack/actions", content=form, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                             "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig})
    if not (r.status_code == 200 and r.json() == {"ok": True, "recorded": 0}):
        wrong.append(("bolt_block_actions_payload", r.status_code, r.text[:200]))
    n += 1
    assert not wrong, wrong
    assert n == len(pd) + 2 == 25
    print(f"\nrelay-2026-11: {n - len(wrong)}/{n} vectors answered as expected")
