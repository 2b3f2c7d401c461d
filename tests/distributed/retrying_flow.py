"""A second copy of the seed flow whose `remediate` node has `retries: 1`, for the worker-crash test.

WHY a copy: the seed YAML must run as written, and its nodes have no retries -- a task whose worker died
then fails for good (Airflow 3.3's heartbeat-timeout detection fails a task with no retries left). To show
what a retry does after a crash (the change is not applied twice), the copy differs from the seed only in
its name, its webhook path, and the retry on that one node.
"""

from __future__ import annotations

from pathlib import Path

from aof_airflow.local.demo import FLOW

RETRYING_FLOW = f"{FLOW}-retrying"
SEED_FLOW_FILE = "incident-response-flow.yaml"


def retrying_variant(seed_yaml: str) -> str:
    out = seed_yaml.replace(f"  name: {FLOW}\n", f"  name: {RETRYING_FLOW}\n", 1)
    out = out.replace("path: /pagerduty/webhook\n", "path: /pagerduty/webhook-retrying\n", 1)
    node = "    - id: remediate\n      type: Agent\n"
    out = out.replace(node, node + "      retries: 1\n      retry_delay_seconds: 2\n", 1)
    if out.count(RETRYING_FLOW) != 1 or "webhook-retrying" not in out or "retries: 1" not in out:
        raise ValueError("the seed flow changed shape; update retrying_variant")
    return out


def write_retrying_flow(dags_folder: Path) -> Path:
    flows = dags_folder / "flows"
    target = flows / "incident-response-flow-retrying.yaml"
    target.write_text(retrying_variant((flows / SEED_FLOW_FILE).read_text()))
    return target
