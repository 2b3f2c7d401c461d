"""Wait node: sleeps `duration` on the triggerer (Airflow's own TimeDeltaTrigger), holding no worker slot.

Before deferring it reads its ancestors and checks its `conditions` like every node; when the trigger fires,
the task resumes in `execute_complete`, which decides the children that depend on it alone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Context

from aof_airflow.operators.base import NodeOperator


class WaitOperator(NodeOperator):
    node_types = ("Wait",)
    ui_color = "#eeeeee"

    def execute(self, context: Context) -> None:
        self.prepare(context)
        seconds = self.node.config.seconds
        self.log.info("waiting %s (%gs) on the triggerer", self.node.config.duration, seconds)
        from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger  # ~7 ms off every DAG parse

        self.defer(trigger=TimeDeltaTrigger(timedelta(seconds=seconds)), method_name="execute_complete")

    def execute_complete(self, context: Context, event: Any = None) -> dict[str, Any]:
        result = {"waited": self.node.config.duration, "seconds": self.node.config.seconds}
        self.skip_decided(context, result)
        return result
