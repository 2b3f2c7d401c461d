"""Parallel node: the point where branches fan out. Its branches (`config.branches` and its connections) are its
downstream tasks, which Airflow starts side by side once it has run; its output names them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import Context

from aof_airflow.operators.base import NodeOperator

if TYPE_CHECKING:
    from aof_airflow.templating import TemplateContext


class ParallelOperator(NodeOperator):
    node_types = ("Parallel",)
    ui_color = "#e8eaf6"

    def run(self, tctx: TemplateContext, context: Context) -> dict[str, Any]:
        branches = sorted(self.downstream_task_ids)
        self.log.info("fanning out to %s", ", ".join(branches) or "nothing")
        return {"branches": branches}
