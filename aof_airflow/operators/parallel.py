"""Parallel node: the point where branches fan out. Its branches (`config.branches` and its connections) are its
downstream tasks, which Airflow starts side by side once it has run; its output names them."""

from __future__ import annotations

from typing import Any

from aof_airflow.operators.base import NodeOperator


class ParallelOperator(NodeOperator):
    node_types = ("Parallel",)
    ui_color = "#e8eaf6"

    def run(self, tctx: Any, context: Any) -> dict[str, Any]:
        branches = sorted(self.downstream_task_ids)
        self.log.info("fanning out to %s", ", ".join(branches) or "nothing")
        return {"branches": branches}
