"""Join node: where parallel branches meet. Its trigger rule carries the strategy (JOIN_RULES):
`all` -> all_success, `any` -> one_success, `majority` -> all_done, then counted here. Its output maps each
branch that succeeded to that branch's output."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import Context, TriggerRule
from airflow.sdk.exceptions import AirflowFailException

from aof_airflow.operators.base import NodeOperator
from aof_airflow.spec.models import JoinNode

if TYPE_CHECKING:
    from aof_airflow.templating import TemplateContext

JOIN_RULES = {"all": TriggerRule.ALL_SUCCESS, "any": TriggerRule.ONE_SUCCESS, "majority": TriggerRule.ALL_DONE}


class JoinOperator(NodeOperator):
    ui_color = "#e8eaf6"
    node_types = ("Join",)
    node: JoinNode

    @classmethod
    def trigger_rule_for(cls, node: JoinNode) -> str:  # type: ignore[override]
        return JOIN_RULES[node.config.strategy]

    def run(self, tctx: TemplateContext, context: Context) -> dict[str, Any]:
        branches = sorted(self.upstream_task_ids)
        outputs = getattr(self, "_outputs", {})
        done = {b: outputs[b] for b in branches if b in outputs}
        if self.node.config.strategy == "majority" and 2 * len(done) <= len(branches):
            raise AirflowFailException(f"node {self.node.id!r}: only {len(done)} of {len(branches)} branches "
                                       f"succeeded ({', '.join(done) or 'none'}); a majority is needed")
        self.log.info("joined %d of %d branches: %s", len(done), len(branches), ", ".join(done) or "none")
        return done
