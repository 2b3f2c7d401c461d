"""What every node has (id, `conditions`, retries, description) and the strict base model of the language.

A node's `conditions` come in AOF's forms as well as the tutorial's: `{from, when}` (a condition on the `from`
node's output), `{from, value}` (its output equals the value) and `{from, reaction}` (an approval decided with
that reaction). An entry holds only when its `from` node ran.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_TIMEOUT = 7 * 24 * 3600  # seconds: a node waiting longer than a week is a typo, not a plan
MAX_RETRIES = 100


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
    def _one_test(self) -> "NodeCondition":
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
