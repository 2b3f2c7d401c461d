"""HTTP node: one request through the http provider."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from aof_airflow.spec.nodes.base import GRACE, MAX_TIMEOUT, NodeBase, Strict


class HTTPNodeConfig(Strict):
    url: str = Field(min_length=1)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | dict[str, Any] | list[Any] | None = None
    timeout_seconds: float = Field(default=30, gt=0, le=MAX_TIMEOUT)
    connection_id: str | None = None


class HTTPNode(NodeBase):
    type: Literal["HTTP"]
    config: HTTPNodeConfig
    template_fields: ClassVar[tuple[str, ...]] = ("url", "headers", "body")

    def execution_seconds(self) -> float | None:
        return 2 * self.config.timeout_seconds + GRACE  # the node's deadline: a request and a Retry-After wait
