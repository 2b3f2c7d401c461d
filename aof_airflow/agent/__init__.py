"""The agent runtime: what answers an Agent node.

- `runtime.run_agent(agent, prompt, scope=..., timeout_seconds=...)`: the one entry point (operators, CLI).
- `engines.get_engine("provider:model")`: anthropic / openai (llm/) and builtin (rules/), imported lazily.
- `llm/`: one tool loop shared by thin adapters on the official SDKs; retries; credentials.
- `tools/`: the guarded Toolbox (Shell + kubectl/helm guardrails, HTTP, MCP) -- the only way an engine acts.
- `contract.py`: the "Output format" JSON an agent promises; `memory.py`: past incidents per service.
"""
