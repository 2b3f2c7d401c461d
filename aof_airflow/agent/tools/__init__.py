"""Guarded tools (Shell, HTTP, MCP) behind one Toolbox: the only way an engine acts on the world."""

from aof_airflow.agent.tools.shell import Refused
from aof_airflow.agent.tools.toolbox import Toolbox, ToolSpec

__all__ = ["Refused", "Toolbox", "ToolSpec"]
