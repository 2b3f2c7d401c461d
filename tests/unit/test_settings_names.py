"""One list of settings: `.env.example`, the README and the code must name the same things.

A name in `.env.example` must be read by something (the code, as `AOF_<setting>` or a literal environment
variable name; the seed flows' `${NAME}`; docker-compose.yaml); every setting the code reads must be in the
README's table, and every name there must be read. And the Slack scopes the README asks for are the ones
the product's Web API calls need (slackapi/slack-api-specs), which is also what the sandbox's token has.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from pathlib import Path

from aof_lab.sandbox.slack import DEFAULT_SCOPES
from tests.locations import CorpusDir

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ROOT / "aof_airflow"
README = (ROOT / "README.md").read_text()
SETTING_CALLS = {"setting", "_float"}  # config.setting(name), relay.settings._float(name, default)


def _trees() -> list[ast.AST]:
    return [ast.parse(p.read_text()) for p in sorted(PRODUCT.rglob("*.py"))]


def code_literals() -> set[str]:
    return {n.value for t in _trees() for n in ast.walk(t) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def code_patterns() -> list[re.Pattern]:
    """f-strings such as f"{provider}_conn_id", as patterns a name may match."""
    out = []
    for t in _trees():
        for n in ast.walk(t):
            if isinstance(n, ast.JoinedStr) and all(isinstance(v, (ast.Constant, ast.FormattedValue)) for v in n.values):
                parts = [re.escape(v.value) if isinstance(v, ast.Constant) else "[a-z]+" for v in n.values]
                if any(isinstance(v, ast.Constant) and len(v.value) > 3 for v in n.values):
                    out.append(re.compile("".join(parts)))
    return out


def settings_read() -> set[str]:
    """Every declared setting (config.AofSettings: all are read, and checked, by the first `settings()` of a
    process), and names the code reads with `setting("...")` or `settings().name`."""
    from aof_airflow.config import AofSettings

    names = set(AofSettings.model_fields)
    for t in _trees():
        for n in ast.walk(t):
            if isinstance(n, ast.Call) and n.args and isinstance(n.args[0], ast.Constant) and isinstance(n.args[0].value, str):
                f = n.func
                if (f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None) in SETTING_CALLS:
                    names.add(n.args[0].value)
            # a typed setting: `settings().name` (config.AofSettings)
            call = n.value if isinstance(n, ast.Attribute) else None
            if (isinstance(call, ast.Call) and not call.args
                    and getattr(call.func, "id", getattr(call.func, "attr", None)) == "settings"):
                names.add(n.attr)
    return names


def readme_settings() -> set[str]:
    table = README.split("## Settings", 1)[1].split("\n## ", 1)[0]
    return {name for row in table.splitlines() if row.startswith("| `")
            for name in re.findall(r"`([a-z][a-z0-9_]+)`", row.split("|")[1])}


def env_example() -> list[str]:
    return [line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines()
            if line and not line.startswith("#")]


def test_every_setting_the_code_reads_is_in_the_readme_and_every_readme_setting_is_read():
    read, documented = settings_read(), readme_settings()
    literals, patterns = code_literals(), code_patterns()
    assert read - documented == set(), f"read by the code but not in README's Settings table: {sorted(read - documented)}"
    unread = {n for n in documented if n not in literals and n not in read and not any(p.fullmatch(n) for p in patterns)}
    assert unread == set(), f"in README's Settings table but read by nothing: {sorted(unread)}"


def test_every_env_example_name_is_read_and_the_ones_the_code_reads_are_in_the_readme():
    read, literals = settings_read(), code_literals()
    compose = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", (ROOT / "docker-compose.yaml").read_text()))
    flows = {m for f in (ROOT / "dags/flows").glob("*.yaml") for m in re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", f.read_text())}
    problems = []
    for name in env_example():
        setting = name[4:].lower() if name.startswith("AOF_") else None
        by_code = (setting in read) or name in literals
        if not (by_code or name in compose or name in flows):
            problems.append(f"{name}: read by nothing (neither the code, the seed flows nor docker-compose.yaml)")
        elif by_code and f"`{setting or name}`" not in README and f"`{name}`" not in README:
            problems.append(f"{name}: read by the code but not named in README")
    assert not problems, "\n".join(problems)


def test_the_readme_env_names_exist_in_the_code():
    """Upper-case names the README tells people to set are read by the code, the seed flows or the compose file."""
    table = README.split("## Pointing it at real services", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([A-Z][A-Z0-9_]{3,})`", table))
    literals = code_literals()
    flows = {m for f in (ROOT / "dags/flows").glob("*.yaml") for m in re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", f.read_text())}
    compose = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", (ROOT / "docker-compose.yaml").read_text()))
    assert {n for n in named if n not in literals | flows | compose} == set()


# ------------------------------------------------------------------------------ Slack scopes

METHOD = re.compile(r"^(chat|conversations|reactions|users|usergroups|auth)\.[a-zA-Z.]+$")
SLACK = CorpusDir("slack")


@functools.cache
def slack_methods() -> dict:
    """slack-api-specs' table of Web API methods (published material: ../shared/corpora/slack)."""
    return json.loads((SLACK / "slack-api-specs/web-api-methods.json").read_text())


def slack_calls() -> set[str]:
    """Web API methods the product calls: `"chat.postMessage"` literals and `client.chat_postMessage(...)` (a call:
    an attribute such as `obs.users_read` is no method)."""
    calls = {s for s in code_literals() if METHOD.match(s)}
    for t in _trees():
        for c in ast.walk(t):
            n = c.func if isinstance(c, ast.Call) else None
            if isinstance(n, ast.Attribute) and re.match(r"^(chat|conversations|reactions|users|usergroups|auth)_[a-zA-Z_]+$", n.attr):
                head, _, tail = n.attr.partition("_")
                calls.add(f"{head}.{tail.replace('_', '.')}" if head == "usergroups" else f"{head}.{tail}")
    return calls


def needed_scopes(calls: set[str]) -> set[str]:
    """Bot scopes for the calls; history on public and private channels alike (approvals can be in either)."""
    out: set[str] = set()
    for m in calls:
        scopes = [s.replace("chat:write:bot", "chat:write") for s in slack_methods()[m]["scopes"]]
        scopes = [s for s in scopes if s not in ("none", "chat:write:user") and not s.startswith(("im:", "mpim:"))]
        out |= set(scopes)
    return out


def test_the_readme_asks_for_the_scopes_the_codes_slack_calls_need():
    calls = slack_calls()
    assert {"chat.postMessage", "conversations.history", "reactions.get", "usergroups.users.list"} <= calls
    documented = set(slack_methods())
    assert calls <= documented, f"calls without a spec entry in the corpus: {calls - documented}"
    summary = README.split("In short:", 1)[1].split("\n", 1)[0]
    asked = set(re.findall(r"`([a-z]+:[a-z]+)`", summary))
    assert asked == needed_scopes(calls) == set(DEFAULT_SCOPES)
