"""The Toolbox as toolsets: guards as wrappers with one choke point for changes, a registry of toolsets, and a
Toolbox that several threads may use at once."""

from __future__ import annotations

import threading

from aof_airflow.agent.tools import Toolbox, Toolset, ToolSpec, toolbox
from aof_airflow.agent.tools.shell_toolset import ShellToolset
from aof_airflow.agent.tools.toolset import ToolContext
from aof_airflow.agent.types import AgentScope, ToolCall
from tests.unit.agent.helpers import make_agent, shell_tool

SCOPE = AgentScope(flow="incident-response", run_id="run-t", node_id="remediate", service="api", namespace="prod")


def test_the_bare_shell_refuses_a_change_that_did_not_pass_the_change_guard(canary_bin):
    """Only the change guard makes changes: a shell stack built without it refuses them instead of running them."""
    canary_bin.add("kubectl", 'echo "ran $*"')
    box = Toolbox(make_agent(labels={"purpose": "remediation"}, tools=[shell_tool("kubectl")]), SCOPE)
    guard = box._changes
    planned = box._shell.plan("kubectl scale deployment/api --replicas=3")
    assert planned.change is not None
    bare = guard.wrapped
    assert isinstance(bare, ShellToolset)
    call = bare.run(planned)
    assert call.refused and "change guard" in call.output and canary_bin.ran() == []


def test_a_new_toolset_is_one_registration(monkeypatch):
    """A toolset added to TOOLSETS is offered to the model and called by name, beside the others."""

    class Echo(Toolset):
        def __init__(self, ctx: ToolContext) -> None:
            self.closed = False

        def specs(self) -> list[ToolSpec]:
            return [ToolSpec("echo", "say it back", {"type": "object", "properties": {"text": {"type": "string"}}})]

        def handles(self, name: str) -> bool:
            return name == "echo"

        def call(self, name: str, args: dict) -> ToolCall:
            return ToolCall(name, args, True, str(args.get("text")))

        def close(self) -> None:
            self.closed = True

    monkeypatch.setattr(toolbox, "TOOLSETS", (*toolbox.TOOLSETS, Echo))
    with Toolbox(make_agent(tools=[shell_tool("kubectl")]), SCOPE) as box:
        assert [s.name for s in box.specs()] == ["shell", "echo"]
        assert box.call("echo", {"text": "hi"}).output == "hi"
        assert box.call("nope", {}).refused == "unknown tool"
        echo = box.toolsets.toolsets[-1]
    assert echo.closed
    assert [c.tool for c in box.tool_calls] == ["echo", "nope"]


def test_shell_from_many_threads_records_every_call(canary_bin):
    """The rules engine reads the cluster from several threads through one Toolbox: nothing is lost."""
    canary_bin.add("kubectl", 'echo "ran $*"')
    box = Toolbox(make_agent(tools=[shell_tool("kubectl")]), SCOPE)
    threads = [threading.Thread(target=lambda i=i: [box.shell(f"kubectl get pod p{i}-{k}") for k in range(3)])
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    box.close()
    assert len(box.tool_calls) == 24 and all(c.ok for c in box.tool_calls)
    assert sorted(c.args["command"] for c in box.tool_calls) == sorted(
        f"kubectl get pod p{i}-{k}" for i in range(8) for k in range(3))


def test_concurrent_requests_for_the_same_change_make_it_once(canary_bin, tmp_path):
    """Two threads asking for the same change in one run: the change guard makes it once; the other finds it
    recorded (changes of one Toolbox are one at a time)."""
    log = tmp_path / "log"
    canary_bin.add("kubectl", f'case "$*" in *dry-run*) echo dry;; "get "*) echo snap;; *) echo "$*" >> {log}; '
                              f'/bin/sleep 0.2; echo done;; esac')
    box = Toolbox(make_agent(labels={"purpose": "remediation"}, tools=[shell_tool("kubectl")]), SCOPE)
    calls: list[ToolCall] = []
    threads = [threading.Thread(target=lambda: calls.append(box.shell("kubectl scale deployment/api --replicas=3")))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    box.close()
    assert all(c.ok for c in calls)
    assert log.read_text().splitlines() == ["scale deployment/api --replicas=3 --namespace=prod"]
    assert sum("already applied" in c.output for c in calls) == 1
