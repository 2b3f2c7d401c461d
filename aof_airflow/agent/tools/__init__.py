"""Guarded toolsets (Shell, HTTP, MCP) combined in one Toolbox: the only way an engine acts on the world."""

from aof_airflow.agent.tools.shell import Refused
from aof_airflow.agent.tools.toolbox import Toolbox
from aof_airflow.agent.tools.toolset import Toolset, ToolSpec

__all__ = ["Refused", "ToolSpec", "Toolbox", "Toolset"]
