"""`aofctl relay` (serve the webhook relay) and `aofctl flow trigger NAME --event FILE`.

`flow trigger` goes through the relay's own path, so it is checked, deduplicated and stored like
a PagerDuty delivery:
  - default: POST the file to a running relay (`--url`, `[aof] relay_url`, else
    http://127.0.0.1:8088) at the flow's webhook path, with its Bearer token from the environment;
  - `--direct`: no relay running -- validate + store in the outbox in this process (the operator
    has database access, so no webhook auth), then deliver it to the Airflow API at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aof_airflow.cli import Commands
from aof_airflow.config import setting


def _serve(args: argparse.Namespace) -> int:
    # `aofctl flow ...` loads this module too: the relay's code only when a relay command runs
    import uvicorn

    from aof_airflow.relay.app import create_app

    app = create_app(flows=args.flows)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return 0


def _trigger(args: argparse.Namespace) -> int:
    # `aofctl flow ...` loads this module too: the relay's code only when a relay command runs
    from aof_airflow.relay import secrets
    from aof_airflow.relay.flows import FlowTable

    body = Path(args.event).read_bytes()
    table = FlowTable(args.flows)
    route = next((r for r in table.routes().values() if r.flow.name == args.name), None)
    if route is None:
        print(f"error: no flow named {args.name!r} with a Webhook trigger under {args.flows or 'the flows folder'}",
              file=sys.stderr)
        return 2
    if args.direct:
        return _trigger_direct(args, route, body)
    import httpx  # as above: only this command sends a request

    url = (args.url or setting("relay_url") or "http://127.0.0.1:8088").rstrip("/") + route.path
    headers = {"Content-Type": "application/json"}
    if args.webhook_id:
        headers["X-Webhook-Id"] = args.webhook_id
    if route.bearer is not None:
        token = secrets.resolve(route.bearer.token)
        if not token:
            print(f"error: {route.bearer.token} is not set", file=sys.stderr)
            return 2
        headers["Authorization"] = f"Bearer {token}"
    try:
        r = httpx.post(url, content=body, headers=headers, timeout=30, trust_env=False)
    except httpx.HTTPError as exc:
        print(f"error: relay at {url} unreachable ({type(exc).__name__}); try --direct", file=sys.stderr)
        return 1
    print(json.dumps({"status_code": r.status_code, **_json(r)}))
    return 0 if r.status_code == 202 else 1


def _json(r) -> dict:
    try:
        body = r.json()
        return body if isinstance(body, dict) else {"body": body}
    except ValueError:
        return {"body": r.text[:500]}


def _trigger_direct(args: argparse.Namespace, route, body: bytes) -> int:
    # `aofctl flow ...` loads this module too: the relay's code only when a relay command runs
    from aof_airflow.relay.service import Relay
    from aof_airflow.relay.settings import RelaySettings

    relay = Relay({route.flow.name: route.flow}, RelaySettings.load(start_dispatcher=False))
    try:
        headers = {"x-webhook-id": args.webhook_id} if args.webhook_id else {}
        reply = relay.accept(route, body, headers, trusted=True)
        out = {"status_code": reply.status, **reply.body}
        if reply.status == 202 and reply.body.get("status") == "accepted":
            relay.dispatcher.run_once()
            row = next(r for r in relay.outbox.rows(id=reply.body["id"]))
            out.update(delivery=row["state"], last_error=row["last_error"])
        print(json.dumps(out))
        return 0 if reply.status == 202 else 1
    finally:
        relay.client.close()


def register(cli: Commands) -> None:
    p = cli.command("relay", _serve, help="serve the webhook relay (PagerDuty -> Airflow DAG runs)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8088)
    p.add_argument("--flows", default=None, help="flows folder (default: [aof] flows_folder)")
    p.add_argument("--log-level", default="info")

    p = cli.command("flow trigger", _trigger, help="send an event to a flow through the relay's path")
    p.add_argument("name", help="flow name (metadata.name)")
    p.add_argument("--event", required=True, help="JSON file with the webhook body")
    p.add_argument("--flows", default=None, help="flows folder (default: [aof] flows_folder)")
    p.add_argument("--url", default=None, help="relay base URL (default: [aof] relay_url or http://127.0.0.1:8088)")
    p.add_argument("--direct", action="store_true", help="no relay: store in the outbox and deliver from here")
    p.add_argument("--webhook-id", default=None, help="X-Webhook-Id to send (dedup key)")
