"""A tiny stdio MCP server on the python `mcp` SDK, for the agent's MCP tool tests.

Run as `python tests/fakes/mcp_server.py`; it serves two tools. `pod_restarts` answers from a fixed table so
a test can tell the model's tool result came from this server, not from anywhere else.
"""

from __future__ import annotations

from mcp.server import MCPServer

server = MCPServer("aof-test-mcp")
RESTARTS = {"checkout-7d9f": 14, "payments-5c2a": 0}


@server.tool()
def pod_restarts(pod: str) -> str:
    """How many times a pod's containers restarted."""
    if pod not in RESTARTS:
        return f"pod {pod} not found"
    return f"pod {pod} restarted {RESTARTS[pod]} times (served by aof-test-mcp)"


@server.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


if __name__ == "__main__":
    server.run("stdio")
