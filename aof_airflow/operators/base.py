"""What every AgentFlow node does before its own work: read its ancestors, check its `conditions`, mask secrets.

Kept as a mixin so operators of other shapes (the deferrable approval sensor) share exactly the same
context and condition semantics (docs/architecture.md) instead of re-implementing them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Sequence, TypeVar

from airflow.sdk import BaseOperator, Context
from airflow.sdk.bases.skipmixin import XCOM_SKIPMIXIN_KEY, XCOM_SKIPMIXIN_SKIPPED
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException, DownstreamTasksSkipped
from airflow.sdk.types import DagRunProtocol

from aof_airflow.agent.masking import mask
from aof_airflow.operators.context import build_roots, flow_info, pull_outputs
from aof_airflow.spec.incident import IncidentProfile, payload_context
from aof_airflow.spec.models import Agent, AgentFlow, Node

if TYPE_CHECKING:
    from aof_airflow.templating import TemplateContext

log = logging.getLogger(__name__)
T = TypeVar("T")
Decided = tuple[Node, Sequence[str]]  # a child this node decides, and the child's ancestor Transforms


def template_context(dag_run: DagRunProtocol, flow_name: str, outputs: dict[str, Any],
                     transforms: Sequence[str], wiring: NodeWiring | None = None) -> TemplateContext:
    """The `${...}` context of a node that sees `outputs` and the exports of `transforms`, secrets masked."""
    from aof_airflow.templating import TemplateContext  # templating stays off the DAG-parse path (test_dag_shape)

    flow = flow_info(flow_name, getattr(dag_run, "run_id", None), getattr(dag_run, "start_date", None))
    roots = build_roots(getattr(dag_run, "conf", None) or {}, outputs, transforms, flow)
    if wiring is not None:
        roots.update(wiring.roots(outputs))
        for name, value in (wiring.context.get("env") or {}).items():  # spec.context.env: `${NAME}` reads it too
            roots.setdefault(name, value)
    return TemplateContext(roots, on_secret=mask)


def conf_context(dag_run: DagRunProtocol | None) -> TemplateContext:
    """Only the trigger payload (no flow variables, environment or Variables): what a DAG-level callback sees."""
    return payload_context(getattr(dag_run, "conf", None))


@dataclass(frozen=True)
class NodeWiring:
    """What a node knows of its flow beyond its ancestors' outputs: `${context.*}` (spec.context), which node
    `${previous.output}` is (its one direct upstream), and whether the flow asked for `verbose` logs."""

    context: Mapping[str, Any] = field(default_factory=dict)
    previous: str | None = None
    verbose: bool = False
    error_handler: bool = False  # spec.config.error_handler: runs when a node failed; the run stays failed

    def roots(self, outputs: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"context": dict(self.context)} if self.context else {}
        if self.previous is not None and self.previous in outputs:
            out["previous"] = {"output": outputs[self.previous]}
        return out

    def environment(self) -> dict[str, str]:
        """spec.context as the environment of a shell node: its `env`, and KUBECONFIG from `kubeconfig`."""
        env = dict(self.context.get("env") or {})
        if self.context.get("kubeconfig"):
            env.setdefault("KUBECONFIG", os.path.expanduser(str(self.context["kubeconfig"])))
        return env


def skip_reason(node: Node, tctx: TemplateContext, outputs: dict[str, Any]) -> str | None:
    """None when the node runs: it has no `conditions`, or ANY entry holds (an entry whose `from` node did not
    run is false). Otherwise why it is skipped. A condition that cannot be evaluated fails the node."""
    entries = getattr(node, "conditions", None) or []
    if not entries:
        return None
    from aof_airflow.templating import TemplateError, evaluate_condition  # off the DAG-parse path

    seen: list[str] = []
    for c in entries:
        if c.from_ not in outputs:
            seen.append(f"{c.from_} did not run")
            continue
        try:
            held = evaluate_condition(c, outputs[c.from_], resolve_ref=tctx.resolve)
        except (TemplateError, LookupError, ValueError) as exc:
            raise AirflowFailException(f"node {node.id!r}: condition {c.text} from {c.from_!r}: {exc}") from exc
        if held:
            log.info("node %s: condition holds: from %s, %s", node.id, c.from_, c.text)
            return None
        seen.append(f"{c.from_}: {c.text} is false")
    return f"node {node.id!r} skipped, no condition holds ({'; '.join(seen)})"


_OPERATORS: dict[str, type[NodeMixin]] = {}  # node type (`Node.operator_key()`) -> the operator that runs it


def operator_for(node: Node) -> type[NodeMixin]:
    """The operator class that runs `node` (registered by its `node_types`)."""
    try:
        return _OPERATORS[node.operator_key()]
    except KeyError:
        raise KeyError(f"node {node.id!r}: no operator runs node type {node.operator_key()!r}") from None


class NodeMixin:
    """State and helpers of a node task. The factory sets these through `node_kwargs`.

    node: the spec.models node (frozen pydantic model); ancestors: the upstream node ids whose outputs it
    reads, in topological order; transforms: the ancestor Transform ids, in that order (their exports are the
    flow variables); decides: (child node, the child's transforms) for each child whose every condition is on
    this node and that has no other upstream, so this node knows, when it ends, whether the child runs.

    A subclass that declares `node_types` registers itself as the operator of those node types; its class
    methods `plan_kwargs`, `trigger_rule_for` and `build` are what the factory asks of a type.
    """

    flow_name: str
    node: Node
    ancestors: Sequence[str]
    transforms: Sequence[str]
    decides: Sequence[Decided]
    node_types: ClassVar[tuple[str, ...]] = ()  # the node types it runs (see `Node.operator_key`)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls.__dict__.get("node_types", ()):
            if _OPERATORS.setdefault(name, cls) is not cls:
                raise TypeError(f"node type {name!r} is run by {_OPERATORS[name].__name__} already")

    # ------------------------------------------------------------------ what the factory asks of a type
    @classmethod
    def plan_kwargs(cls, node: Node, flow: AgentFlow, incident: IncidentProfile) -> dict[str, Any]:
        """Constructor arguments it takes from its flow, computed once per flow content (the scan caches them)."""
        return {}

    @classmethod
    def trigger_rule_for(cls, node: Node) -> str | None:
        """Its own trigger rule (None: the one its upstream count gives, see factory.builder)."""
        return None

    @classmethod
    def build(cls, node: Node, kwargs: dict[str, Any], agents: Mapping[str, Agent]) -> BaseOperator:
        """The task; `kwargs` holds task_id, the NodeMixin fields, BaseOperator's and `plan_kwargs`' arguments."""
        return cls(**kwargs)  # type: ignore[return-value]

    def init_node(self, *, flow_name: str, node: Node, ancestors: Sequence[str], transforms: Sequence[str],
                  decides: Sequence[Decided] = (), wiring: NodeWiring | None = None) -> None:
        """Called from the operator's __init__. Set in one step, not through BaseOperator.__setattr__: during
        __init__ it only adds a converter lookup per attribute (none exist for these), ~3% of a DAG parse."""
        state: dict[str, Any] = dict(flow_name=flow_name, wiring=wiring or NodeWiring(), node=node,
                                     ancestors=tuple(ancestors), transforms=tuple(transforms),
                                     decides=tuple((child, tuple(t)) for child, t in decides))
        if state["decides"]:
            state["_can_skip_downstream"] = True  # serialized: a cleared child stays skipped (NotPreviouslySkippedDep)
        vars(self).update(state)

    # ------------------------------------------------------------------ context
    def node_context(self, context: Context) -> tuple[TemplateContext, dict[str, Any]]:
        """(TemplateContext, {ancestor: output}) for this run, secrets masked as resolved."""
        outputs = pull_outputs(context["ti"], self.ancestors)
        return template_context(context["dag_run"], self.flow_name, outputs, self.transforms, self.wiring), outputs

    # --------------------------------------------------------------- conditions
    def check_conditions(self, tctx: TemplateContext, outputs: dict[str, Any]) -> None:
        """Run if ANY `conditions` entry holds; else skip (see skip_reason)."""
        why = skip_reason(self.node, tctx, outputs)
        if why:
            raise AirflowSkipException(why)

    def skip_decided(self, context: Context, result: Any) -> None:
        """Skip, now, the children this node decides whose conditions are all false, as Airflow's branch
        operators do: the scheduler marks them skipped without starting a process for each, and a join waiting
        on one does not wait for its start-up. Each child's conditions are evaluated exactly as the child
        would (same outputs, same flow variables); a child whose condition cannot be evaluated is left to
        fail with its own message. Raises DownstreamTasksSkipped, so the result is pushed here."""
        if not self.decides:
            return
        outputs = getattr(self, "_outputs", None)
        if outputs is None:  # a resumed (deferred) task: prepare() ran in an earlier process
            outputs = pull_outputs(context["ti"], self.ancestors)
        outputs = {**outputs, self.node.id: result}
        skipped = []
        for child, transforms in self.decides:
            try:
                why = skip_reason(child, template_context(context["dag_run"], self.flow_name, outputs, transforms,
                                                          self.wiring), outputs)
            except AirflowFailException:
                continue
            if why:
                self.log.info("%s", why)
                skipped.append(child.id)
        if skipped:
            ti = context["ti"]
            if result is not None and self.do_xcom_push:
                ti.xcom_push(key="return_value", value=result)
            # what SkipMixin.skip does; the XCom keeps a cleared child skipped (NotPreviouslySkippedDep)
            ti.xcom_push(key=XCOM_SKIPMIXIN_KEY, value={XCOM_SKIPMIXIN_SKIPPED: skipped})
            raise DownstreamTasksSkipped(tasks=skipped)

    def prepare(self, context: Context) -> TemplateContext:
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
    so a `{{` in a script or a model's answer is never read as Jinja. Every node operator takes these (the
    factory sets them from the flow; a DAG written by hand may too), and BaseOperator's own arguments:

    :param flow_name: the flow the node belongs to (`${flow.name}`)
    :param node: the node's model (`aof_airflow.spec.nodes`), as its task runs it
    :param ancestors: the upstream node ids whose outputs it reads, in topological order
    :param transforms: the ancestor Transform ids whose exports are its flow variables, in that order
    :param decides: (child node, the child's transforms) for each child it alone decides
    :param wiring: `${context.*}`, `${previous.output}`, verbose logs, error-handler role
    """

    template_fields: Sequence[str] = ()
    ui_color = "#e8f0fe"

    def __init__(self, *, flow_name: str, node: Node, ancestors: Sequence[str] = (), transforms: Sequence[str] = (),
                 decides: Sequence[Decided] = (), wiring: NodeWiring | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.init_node(flow_name=flow_name, node=node, ancestors=ancestors, transforms=transforms, decides=decides,
                       wiring=wiring)

    def execute(self, context: Context) -> Any:
        tctx = self.prepare(context)
        result = self.run(tctx, context)
        if self.wiring.verbose:
            self.log.info("output (spec.config.verbose): %.4000s", result)
        if self.wiring.error_handler:
            if result is not None:
                context["ti"].xcom_push(key="return_value", value=result)
            raise AirflowFailException(f"flow {self.flow_name!r}: a node failed; error handler {self.node.id!r} "
                                       "ran, and the run stays failed")
        self.skip_decided(context, result)
        return result

    def run(self, tctx: TemplateContext, context: Context) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


def render_or_fail(node_id: str, what: str, fn: Callable[..., T], *args: Any) -> T:
    """Render with a message naming the node and the reference, as an error that does not retry."""
    from aof_airflow.templating import TemplateError  # off the DAG-parse path

    try:
        return fn(*args)
    except (TemplateError, LookupError) as exc:
        raise AirflowFailException(f"node {node_id!r}: cannot render {what}: {exc}") from exc
