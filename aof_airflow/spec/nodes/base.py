"""What every node has (id, `conditions`, retries, description) and the strict base model of the language.

A node type owns its facts here, on its model, instead of other modules switching on `type`: which `config`
fields hold `${...}` templates (`template_fields`, as Airflow operators declare theirs), which hold conditions
(`condition_fields`), the defaults a flow gives it (`with_defaults`) and how long its task may take
(`execution_seconds`). A subclass that declares `type: Literal[...]` registers itself (`node_types()`).

A node's `conditions` come in AOF's forms as well as the tutorial's: `{from, when}` (a condition on the `from`
node's output), `{from, value}` (its output equals the value) and `{from, reaction}` (an approval decided with
that reaction). An entry holds only when its `from` node ran.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_TIMEOUT = 7 * 24 * 3600  # seconds: a node waiting longer than a week is a typo, not a plan
MAX_RETRIES = 100
GRACE = 15  # seconds Airflow waits beyond a node's own timeout, so the node reports its own clean error
SLACK_POST_SECONDS = 120  # a Slack post, with the hook's own retries, ends within this
YamlPath = tuple[str | int, ...]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)


class NodeCondition(Strict):
    from_: str = Field(alias="from", min_length=1)
    when: str | bool | None = None
    value: Any = None
    reaction: str | None = Field(default=None, min_length=1)

    @field_validator("when", mode="before")
    @classmethod
    def _bool_to_text(cls, v: Any) -> Any:
        # YAML reads `when: true` as a bool; the condition language reads the text "true".
        return ("true" if v else "false") if isinstance(v, bool) else v

    @property
    def text(self) -> str:
        """How the entry reads in a log line, an error or the DAG's docs."""
        if self.when is not None:
            return f"`when: {self.when}`"
        if self.reaction is not None:
            return f"`reaction: {self.reaction}`"
        return f"`value: {json.dumps(self.value)}`"

    @model_validator(mode="after")
    def _one_test(self) -> NodeCondition:
        given = [k for k in ("when", "value", "reaction") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a condition takes `from` and exactly one of `when` (an expression), `value` (the "
                             "output it must equal) or `reaction` (the approval's reaction)")
        return self


class NodeBase(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=200)
    conditions: list[NodeCondition] = Field(default_factory=list)
    # unset: the flow's `config.retry`, else the deployment's `[core] default_task_retries`
    retries: int | None = Field(default=None, ge=0, le=MAX_RETRIES)
    retry_delay_seconds: float | None = Field(default=None, ge=0, le=MAX_TIMEOUT)
    description: str | None = None
    depends_on: list[str] = Field(default_factory=list)  # AOF's extra edges into this node


    # ----------------------------------------------------------------- what the type says about itself
    template_fields: ClassVar[tuple[str, ...]] = ()  # `config` fields holding `${...}` ("a.b", "list[].field")
    condition_fields: ClassVar[tuple[str, ...]] = ()  # `config` fields in the condition language
    sets_variables: ClassVar[bool] = False  # its output's exports are flow variables (Transform)
    outputs_upstream: ClassVar[bool] = False  # its output holds its upstream nodes' outputs (Join)
    _registered: ClassVar[list[type[NodeBase]]] = []

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "type" in cls.__annotations__:  # a concrete node type (NodeBase and mixins declare no `type`)
            NodeBase._registered.append(cls)

    @classmethod
    def type_names(cls) -> tuple[str, ...]:
        """The `type:` values this model reads (Approval reads two)."""
        return tuple(cls.model_fields["type"].annotation.__args__)  # type: ignore[union-attr]

    def templates(self, index: int) -> list[tuple[YamlPath, str]]:
        """(YAML path, text) of every templated string of the node; `index` is its place in `spec.nodes`."""
        return _strings_at(self.config, ("spec", "nodes", index, "config"), self.template_fields)

    def conditions_in_config(self, index: int) -> list[tuple[YamlPath, str]]:
        """(YAML path, text) of every expression in its `config` that the condition language reads."""
        return _strings_at(self.config, ("spec", "nodes", index, "config"), self.condition_fields)

    def operator_key(self) -> str:
        """The node type whose operator runs it (a type may run as another: a waiting Slack node)."""
        return self.type  # type: ignore[attr-defined, no-any-return]

    def with_defaults(self, timeout_seconds: float | None, channel: str) -> Self:
        """The node as its task runs it: the flow's default timeout (`spec.config.default_timeout_seconds`) where
        its config sets none. `channel` (the flow's escalation channel) is for types that post and name none."""
        config = _with_timeout(self.config, timeout_seconds)
        return self if config is self.config else self.model_copy(update={"config": config})

    def execution_seconds(self) -> float | None:
        """How long Airflow lets its task run (None: no I/O of its own, or deferred and bounded by its own
        timeout)."""
        return None

    def exports(self) -> list[str]:
        """The flow variables its output sets (`sets_variables` types)."""
        return []

    def posts_to(self) -> str | None:
        """The fixed Slack channel it posts to, where a failure of the flow may be escalated."""
        return None


def node_types() -> tuple[type[NodeBase], ...]:
    """Every registered node model, in the order their modules were imported (`spec.nodes`)."""
    return tuple(NodeBase._registered)


def _with_timeout(config: Any, seconds: float | None) -> Any:
    if (seconds and "timeout_seconds" in type(config).model_fields
            and "timeout_seconds" not in config.model_fields_set):
        return config.model_copy(update={"timeout_seconds": seconds})
    return config


def _strings_at(model: BaseModel, base: YamlPath, fields: tuple[str, ...]) -> list[tuple[YamlPath, str]]:
    out: list[tuple[YamlPath, str]] = []
    plan = _PLANS.get((type(model), fields))
    if plan is None:
        plan = _PLANS[(type(model), fields)] = tuple(_plan(type(model), f) for f in fields)
    for name, yaml_name, parts in plan:
        if parts is not None:  # a path through nested models or lists
            _collect(model, base, parts, 0, out)
            continue
        value = getattr(model, name)  # the usual case, one field of the config (read per node, twice a parse)
        if isinstance(value, str):
            out.append((base + (yaml_name,), value))
        elif value is not None:
            out.extend(_data_strings(base + (yaml_name,), value))
    return out


_PLANS: dict[tuple[type[BaseModel], tuple[str, ...]], tuple[tuple[str, str, Any], ...]] = {}


def _plan(model: type[BaseModel], field: str) -> tuple[str, str, Any]:
    parts = _parts(field)
    if len(parts) == 1 and not parts[0][1]:
        return parts[0][0], _yaml_name(model, parts[0][0]), None
    return "", "", parts


@cache
def _parts(field: str) -> tuple[tuple[str, bool], ...]:
    """"a.b[].c" -> (("a", False), ("b", True), ("c", False)); a parse reads the same few fields many times."""
    return tuple((p.removesuffix("[]"), p.endswith("[]")) for p in field.split("."))


@cache
def _yaml_name(model: type[BaseModel], name: str) -> str:
    return model.model_fields[name].alias or name


def _collect(value: Any, loc: YamlPath, parts: tuple[tuple[str, bool], ...], i: int,
             out: list[tuple[YamlPath, str]]) -> None:
    if i == len(parts):
        if isinstance(value, str):
            out.append((loc, value))
        elif value is not None:
            out.extend(_data_strings(loc, value))
        return
    name, many = parts[i]
    child, here = getattr(value, name), loc + (_yaml_name(type(value), name),)
    if many:
        for k, item in enumerate(child or ()):
            _collect(item, here + (k,), parts, i + 1, out)
    elif child is not None:
        _collect(child, here, parts, i + 1, out)


def _data_strings(loc: YamlPath, value: Any) -> Iterator[tuple[YamlPath, str]]:
    """Every string in a value read from YAML (a dict's values, a list's items), with its path."""
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _data_strings(loc + (k,), v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _data_strings(loc + (i,), v)
