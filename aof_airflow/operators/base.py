"""What every AgentFlow node does before its own work: read its ancestors, check its `conditions`, mask secrets.

Kept as a mixin so operators of other shapes (the deferrable approval sensor) share exactly the same
context and condition semantics (DESIGN §4) instead of re-implementing them.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from aof_airflow.factory.context import build_roots, flow_info, pull_outputs

log = logging.getLogger(__name__)


def mask(value: Any) -> None:
    """Register a secret with Airflow's log masker (task logs show *** instead)."""
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - older SDKs
        from airflow.sdk.execution_time.secrets_masker import mask_secret  # type: ignore[no-redef]
    mask_secret(value)


class NodeMixin:
    """State and helpers of a node task. The factory sets these through `node_kwargs`.

    node: the spec.models node (frozen pydantic model); ancestors: the upstream node ids whose outputs it
    reads, in topological order; transforms: the ancestor Transform ids, in that order (their exports are the
    flow variables).
    """

    flow_name: str
    node: Any
    ancestors: Sequence[str]
    transforms: Sequence[str]

    def init_node(self, *, flow_name: str, node: Any, ancestors: Sequence[str], transforms: Sequence[str]) -> None:
        self.flow_name = flow_name
        self.node = node
        self.ancestors = tuple(ancestors)
        self.transforms = tuple(transforms)

    # ------------------------------------------------------------------ context
    def node_context(self, context: Any) -> tuple[Any, dict[str, Any]]:
        """(TemplateContext, {ancestor: output}) for this run, secrets masked as resolved."""
        from aof_airflow.templating import TemplateContext

        outputs = pull_outputs(context["ti"], self.ancestors)
        dag_run = context["dag_run"]
        flow = flow_info(self.flow_name, getattr(dag_run, "run_id", None), getattr(dag_run, "start_date", None))
        roots = build_roots(getattr(dag_run, "conf", None) or {}, outputs, self.transforms, flow)
        return TemplateContext(roots, on_secret=mask), outputs

    # --------------------------------------------------------------- conditions
    def check_conditions(self, tctx: Any, outputs: dict[str, Any]) -> None:
        """Run if ANY `conditions` entry holds; an entry whose `from` node did not run is false; else skip."""
        entries = getattr(self.node, "conditions", None) or []
        if not entries:
            return
        from aof_airflow.templating import TemplateError, evaluate_when

        seen: list[str] = []
        for c in entries:
            if c.from_ not in outputs:
                seen.append(f"{c.from_} did not run")
                continue
            try:
                held = evaluate_when(c.when, outputs[c.from_], from_node=c.from_, resolve_ref=tctx.resolve)
            except (TemplateError, LookupError, ValueError) as exc:
                raise AirflowFailException(f"node {self.node.id!r}: condition `{c.when}` from {c.from_!r}: {exc}") from exc
            if held:
                self.log.info("condition holds: from %s when %s", c.from_, c.when)
                return
            seen.append(f"{c.from_}: `{c.when}` is false")
        raise AirflowSkipException(f"node {self.node.id!r} skipped, no condition holds ({'; '.join(seen)})")

    def prepare(self, context: Any) -> Any:
        """Context, then conditions: the two steps every node takes before its own work."""
        tctx, outputs = self.node_context(context)
        self.check_conditions(tctx, outputs)
        self._outputs = outputs
        return tctx

    def flow_variables(self) -> dict[str, str]:
        """The exports of this node's ancestor Transforms, merged in topological order (after prepare())."""
        merged: dict[str, str] = {}
        for tid in self.transforms:
            exported = getattr(self, "_outputs", {}).get(tid)
            if isinstance(exported, dict):
                merged.update({k: str(v) for k, v in exported.items()})
        return merged


class NodeOperator(NodeMixin, BaseOperator):
    """Base of the node operators: `run(tctx, context)` is the node's own work, its return value the output.

    No Jinja template fields: AgentFlow templates are `${...}` and are rendered by aof_airflow.templating,
    so a `{{` in a script or a model's answer is never read as Jinja.
    """

    template_fields: Sequence[str] = ()
    ui_color = "#e8f0fe"

    def __init__(self, *, flow_name: str, node: Any, ancestors: Sequence[str] = (), transforms: Sequence[str] = (),
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.init_node(flow_name=flow_name, node=node, ancestors=ancestors, transforms=transforms)

    def execute(self, context: Any) -> Any:
        tctx = self.prepare(context)
        return self.run(tctx, context)

    def run(self, tctx: Any, context: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


def render_or_fail(node_id: str, what: str, fn: Any, *args: Any) -> Any:
    """Render with a message naming the node and the reference, as an error that does not retry."""
    from aof_airflow.templating import TemplateError

    try:
        return fn(*args)
    except (TemplateError, LookupError) as exc:
        raise AirflowFailException(f"node {node_id!r}: cannot render {what}: {exc}") from exc
