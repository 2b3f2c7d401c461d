"""Conditional node: named expressions -> `{name: bool}`, or one `condition` -> `bool` (docs/architecture.md).

Parsed by the condition language (never Python eval); a type mismatch such as `"high" > 3` fails the node
with the expression, because it is the author's bug, not a quiet False.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import Context

from aof_airflow.operators.base import NodeOperator, render_or_fail
from aof_airflow.spec.models import ConditionalNode

if TYPE_CHECKING:
    from aof_airflow.templating import TemplateContext


class ConditionalOperator(NodeOperator):
    node_types = ("Conditional",)
    ui_color = "#f3e8fd"
    node: ConditionalNode

    def run(self, tctx: TemplateContext, context: Context) -> dict[str, bool] | bool:
        from aof_airflow.templating import parse_condition  # off the DAG-parse path (test_dag_shape)

        cfg = self.node.config

        def check(text: str) -> bool:
            cond = parse_condition(text)
            return render_or_fail(self.node.id, f"condition `{text}`", cond.evaluate_bool, tctx.resolve)

        if cfg.conditions is not None:
            result: dict[str, bool] | bool = {c.name: check(c.expression) for c in cfg.conditions}
        else:
            result = check(cfg.condition)
        self.log.info("result: %s", result)
        return result
