"""An unauthenticated 1 GB body costs the relay no more than its body cap, on every route.

A real relay process (`aofctl relay`, uvicorn) on 127.0.0.1; each request streams a generated 1 GiB body
(chunked, so the server cannot refuse it from Content-Length alone; and once with Content-Length declared).
The relay must answer 4xx and cut the connection at the cap; its peak resident memory (VmHWM in
/proc/<pid>/status) may grow by less than 10 MB over all of them. Prints the figures.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest

from aof_lab.local.processes import ManagedProcesses
from tests.harness.airflow_stack import free_port
from tests.locations import SEED_FLOW
from tests.unit.relay.flows import V3_FLOW

GIB = 1024 ** 3
CHUNK = b"x" * (256 * 1024)
TOKEN = "memory-test-token"
MAX_GROWTH_KB = 10 * 1024


def status_kb(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0])
    return out


def send_gib(port: int, path: str, headers: dict[str, str], chunked: bool) -> tuple[int | None, int, float]:
    """Stream a 1 GiB body; (status answered or None, bytes the server took before cutting, seconds)."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(GIB)}
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "127.0.0.1", **headers, **framing}.items())
    s.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode())
    sent = 0
    piece = (b"%x\r\n" % len(CHUNK)) + CHUNK + b"\r\n" if chunked else CHUNK
    s.settimeout(5)
    try:
        while sent < GIB:
            s.sendall(piece)
            sent += len(CHUNK)
        if chunked:
            s.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass  # the server cut the connection (or stopped reading) at its cap
    status = None
    try:
        s.settimeout(5)
        reply = s.recv(4096)
        if reply.startswith(b"HTTP/1.1 "):
            status = int(reply[9:12])
    except (ConnectionResetError, socket.timeout, OSError):
        pass
    s.close()
    return status, sent, time.monotonic() - t0


@pytest.fixture
def relay(tmp_path: Path):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "seed.yaml").write_text(SEED_FLOW.read_text())
    (flows / "v3.yaml").write_text(V3_FLOW)
    port = free_port()
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path), "AIRFLOW_HOME": str(tmp_path / "airflow"),
           "AOF_RELAY_DATABASE_URL": f"sqlite:///{tmp_path / 'outbox.db'}", "AOF_AIRFLOW_API_URL": "http://127.0.0.1:9",
           "PAGERDUTY_WEBHOOK_TOKEN": TOKEN, "PD_TEST_SIGNING_SECRET": "memory-test-signing-secret",
           "AOF_SLACK_SIGNING_SECRET": "memory-test-slack-secret"}
    procs = ManagedProcesses(tmp_path, env)
    proc = procs.start("relay", [str(Path(sys.executable).parent / "aofctl"), "relay", "--host", "127.0.0.1",
                                 "--port", str(port), "--flows", str(flows), "--log-level", "warning"])
    try:
        procs.wait_http("relay", f"http://127.0.0.1:{port}/healthz", timeout=90)
        yield port, proc.pid
    finally:
        procs.stop_all()


def test_a_1gb_unauthenticated_body_costs_no_more_than_the_cap(relay):
    port, pid = relay
    now = str(int(time.time()))
    slack = {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=" + "0" * 64,
             "Content-Type": "application/x-www-form-urlencoded"}
    targets = [  # (what, path, headers, expected status)
        ("/slack/actions", "/slack/actions", slack, 413),
        ("/slack/events", "/slack/events", {**slack, "Content-Type": "application/json"}, 413),
        ("webhook, Bearer flow, no token", "/pagerduty/webhook", {"Content-Type": "application/json"}, 401),
        ("webhook, Bearer flow, wrong token", "/pagerduty/webhook",
         {"Content-Type": "application/json", "Authorization": "Bearer nope"}, 403),
        ("webhook, signed flow, bad signature", "/pagerduty/v3",
         {"Content-Type": "application/json", "X-PagerDuty-Signature": "v1=" + "0" * 64}, 413),
    ]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:  # warm every route's code path
        for _, path, headers, _ in targets:
            c.post(path, content=b"{}", headers=headers)
        assert c.get("/readyz").status_code == 200
    before = status_kb(pid)
    results = []
    for what, path, headers, want in targets:
        for chunked in (True, False):
            status, taken, seconds = send_gib(port, path, headers, chunked)
            results.append((what, "chunked" if chunked else "Content-Length 1 GiB", status, taken, round(seconds, 2)))
            assert status == want, results[-1]
            assert taken < 64 * 1024 * 1024, results[-1]  # cut at the cap, not drained
            assert seconds < 10, results[-1]
    after = status_kb(pid)
    growth = after["VmHWM"] - before["VmHWM"]
    print("\n1 GiB unauthenticated bodies:\n" + "\n".join(json.dumps(r) for r in results))
    print(f"relay pid {pid}: VmHWM {before['VmHWM']} -> {after['VmHWM']} kB (+{growth} kB), "
          f"VmRSS {before['VmRSS']} -> {after['VmRSS']} kB")
    assert growth < MAX_GROWTH_KB
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
        assert c.get("/healthz").status_code == 200  # still serving
