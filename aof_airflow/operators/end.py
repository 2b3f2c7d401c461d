"""End node: closes a path; its output is its rendered `message`, the flow's result for whoever reads the run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import Context

from aof_airflow.operators.base import NodeOperator, render_or_fail

if TYPE_CHECKING:
    from aof_airflow.templating import TemplateContext


class EndOperator(NodeOperator):
    node_types = ("End",)
    ui_color = "#f5f5f5"

    def run(self, tctx: TemplateContext, context: Context) -> Any:
        from aof_airflow.templating import render_text  # off the DAG-parse path (test_dag_shape)

        message = self.node.config.message
        if message is None:
            return None
        text = render_or_fail(self.node.id, "message", render_text, message, tctx)
        self.log.info("result:\n%s", text)
        return {"message": text}
