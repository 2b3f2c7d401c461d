"""Every trigger type's validation, at the file:line of the offending YAML; `kind: Trigger` documents and bindings."""

from __future__ import annotations

from pathlib import Path

import pytest

from aof_airflow.spec.loader import load_paths, load_text
from aof_airflow.spec.triggers import (
    HTTPTrigger,
    ManualTrigger,
    MatchTrigger,
    PagerDutyTrigger,
    ScheduleTrigger,
    SlackTrigger,
    WebhookTrigger,
)
from tests.locations import CorpusDir

from .spec_helpers import line_of

NODES = "  nodes: [{id: a, type: Transform, config: {script: \"true\"}}]\n"
CORPUS = CorpusDir("aof-triggers")


def flow(trigger: str, name: str = "f") -> str:
    return f"apiVersion: aof.dev/v1\nkind: AgentFlow\nmetadata: {{name: {name}}}\nspec:\n  trigger:\n{trigger}{NODES}"


def problems(text: str) -> list[str]:
    return [f"{p.line}: {p.message}" for p in load_text(text, "t.yaml").problems]


def trigger_of(text: str):
    parsed = load_text(text, "t.yaml")
    assert not parsed.problems, parsed.problems
    return parsed.documents[0].model.spec.trigger


@pytest.mark.parametrize("yaml_text,cls,check", [
    ("    type: Webhook\n    config: {path: /pd, auth: {type: Bearer, token: '${T}'}}\n", WebhookTrigger,
     lambda t: t.config.events == ["incident.triggered"] and t.config.methods == ["POST"]),
    ("    type: HTTP\n    config: {path: /hook, methods: [PUT], auth: {type: PagerDutySignature, secret: '${S}'}}\n",
     HTTPTrigger, lambda t: t.config.secret == "${S}" and t.config.methods == ["PUT"]),
    ("    type: PagerDuty\n    config:\n      webhook_secret: ${PD_SECRET}\n      events: [incident.triggered, "
     "incident.escalated]\n      service_ids: [PSVC1]\n", PagerDutyTrigger,
     lambda t: t.config.path == "/webhook/pagerduty" and t.config.secret == "${PD_SECRET}"
     and t.config.events == ["incident.triggered", "incident.escalated"] and t.config.service_ids == ["PSVC1"]),
    ("    type: PagerDuty\n    config: {events: ['incident.*', 'incident.responder.*']}\n", PagerDutyTrigger,
     lambda t: t.config.events == ["incident.*", "incident.responder.*"]),
    ("    type: Slack\n    config: {events: [app_mention, message], channels: [prod], patterns: ['deploy (\\\\w+)']}\n",
     SlackTrigger, lambda t: t.config.events == ["app_mention", "message"]),
    ("    type: Slack\n", SlackTrigger, lambda t: t.config.events == ["app_mention"]),
    ("    type: Schedule\n    config: {cron: '0 9 * * 1-5', timezone: America/New_York}\n", ScheduleTrigger,
     lambda t: t.config.cron == "0 9 * * 1-5" and t.config.timezone == "America/New_York"),
    ("    type: Schedule\n    config: {cron: '@daily'}\n", ScheduleTrigger, lambda t: t.config.timezone is None),
    ("    type: Manual\n", ManualTrigger, lambda t: True),
    ("    patterns: [deploy, rollout]\n", MatchTrigger, lambda t: t.patterns == ["deploy", "rollout"]),
], ids=["Webhook", "HTTP", "PagerDuty", "PagerDuty patterns", "Slack", "Slack defaults", "Schedule", "Schedule preset", "Manual",
        "AOF patterns"])
def test_each_supported_trigger_type_validates(yaml_text, cls, check):
    trig = trigger_of(flow(yaml_text))
    assert isinstance(trig, cls) and check(trig)


def test_no_trigger_is_manual():
    text = "apiVersion: aof.dev/v1\nkind: AgentFlow\nmetadata: {name: f}\nspec:\n" + NODES
    assert trigger_of(text).type == "Manual"


@pytest.mark.parametrize("kind,label", [("Telegram", "Telegram bot"), ("Discord", "Discord bot"),
                                        ("WhatsApp", "WhatsApp Business"), ("GitHub", "GitHub webhook"),
                                        ("Jira", "Jira webhook"), ("teams", "Microsoft Teams")])
def test_other_platforms_are_refused_by_name(kind, label):
    text = flow(f"    type: {kind}\n    config: {{bot_token: '${{TOKEN}}'}}\n")
    assert problems(text) == [f"{line_of(text, 'type:')}: spec.trigger: trigger type `{kind}` ({label}) is not "
                              "supported by aof-airflow; supported trigger types: Webhook, HTTP, PagerDuty, Alertmanager, Slack, "
                              "Schedule, Manual"]


@pytest.mark.parametrize("trigger,needle,message", [
    ("    type: Schedule\n    config: {cron: '0 9 * *'}\n", "cron", "is not a valid schedule: write 5 fields"),
    ("    type: Schedule\n    config: {cron: '61 * * * *'}\n", "cron", "is not a valid schedule"),
    ("    type: Schedule\n    config: {cron: '0 0 9 * * 1-5'}\n", "cron",
     "has 6 fields (seconds first, as AOF's scheduler reads it): Airflow schedules by the minute; drop the seconds "
     "field: `0 9 * * 1-5`"),
    ("    type: Schedule\n    config: {cron: '@every 5m'}\n", "cron", "is not a valid schedule"),
    ("    type: Schedule\n    config: {cron: '0 9 * * *', timezone: Mars/Olympus}\n", "timezone",
     "unknown timezone 'Mars/Olympus'"),
    ("    type: Schedule\n    config: {}\n", "config", "missing required key `cron`"),
    ("    type: PagerDuty\n    config: {events: [triggered]}\n", "events",
     "`triggered` is not a PagerDuty v3 incident event type: did you mean `incident.triggered`?"),
    ("    type: PagerDuty\n    config: {event_types: [incident.triggered]}\n", "event_types",
     "unknown key `event_types` in spec.trigger.config; did you mean `events`?"),
    ("    type: Webhook\n    config: {path: /x, event_types: [incident.triggered]}\n", "event_types",
     "did you mean `events`?"),
    ("    type: Slack\n    config: {events: [slash_command]}\n", "events", "Slack slash commands are not received"),
    ("    type: Slack\n    config: {patterns: ['(unclosed']}\n", "patterns", "is not a valid regular expression"),
    ("    type: webhook\n    config: {path: /x}\n", "type", "unknown trigger type `webhook`: write `type: Webhook`"),
    ("    type: cron\n    config: {schedule: '0 8 * * *'}\n", "type", "write `type: Schedule` with `config.cron`"),
    ("    slack: {channels: ['#ops']}\n    webhook: {path: /x}\n", "slack",
     "a trigger is `{type: ..., config: {...}}`"),
    ("    type: Match\n    patterns: [x]\n", "type", "unknown trigger type `Match`"),
    ("    type: Slack\n    config: {events: [app_mention], commands: [/report]}\n", "commands",
     "unknown key `commands` in spec.trigger.config; known: bot_token, channels, events, patterns, signing_secret, "
     "users"),
], ids=["cron 4 fields", "cron minute 61", "cron with seconds", "cron @every", "timezone", "no cron",
        "pagerduty event", "event_types", "webhook event_types", "slash command", "bad regex", "lowercase webhook",
        "cron type", "platform map", "explicit Match", "slack config keys"])
def test_bad_triggers_are_errors_at_their_line(trigger, needle, message):
    text = flow(trigger)
    found = problems(text)
    assert len(found) == 1 and message in found[0], found
    assert int(found[0].split(":")[0]) in (line_of(text, needle), line_of(text, "trigger:")), found


# ------------------------------------------------------------------------------- kind: Trigger


DEPLOY = flow("    patterns: [deploy]\n", name="deploy-flow")
INCIDENT = flow("    type: Manual\n", name="incident-flow")


def test_aofs_trigger_examples_validate_and_bind_their_flows(tmp_path):
    (tmp_path / "flows.yaml").write_text(DEPLOY + "---\n" + INCIDENT)
    res = load_paths([tmp_path, CORPUS / "slack-prod.yaml", CORPUS / "slack-staging.yaml", CORPUS / "pagerduty.yaml"])
    assert res.problems == []
    assert sorted(res.triggers) == ["pagerduty-incidents", "slack-prod", "slack-staging"]
    pd = res.triggers["pagerduty-incidents"].spec
    assert isinstance(pd, PagerDutyTrigger) and pd.config.service_ids == ["PXXXXXX", "PYYYYYY"]
    assert pd.commands["incident.triggered"].flow == "incident-flow"
    unbound = sorted((w.file.rsplit("/", 1)[-1], w.line) for w in res.warnings if "starts nothing" in w.message)
    slack_prod = (CORPUS / "slack-prod.yaml").read_text()
    assert ("slack-prod.yaml", line_of(slack_prod, "/k8s:")) in unbound  # routes to an agent: reported
    assert len(unbound) == 5 + 2 + 1  # slack-prod's agents/fleet, slack-staging's, pagerduty's acknowledged


@pytest.mark.parametrize("name,kind", [("telegram-oncall.yaml", "Telegram"), ("discord-starter.yaml", "Discord"),
                                       ("whatsapp-starter.yaml", "WhatsApp")])
def test_aofs_other_platform_triggers_are_refused_naming_the_type(name, kind):
    text = (CORPUS / name).read_text()
    found = problems(text)
    assert len(found) == 1 and f"trigger type `{kind}`" in found[0] and "supported trigger types" in found[0]
    assert int(found[0].split(":")[0]) == line_of(text, f"type: {kind}")


def test_a_binding_to_an_undefined_flow_is_an_error_at_its_line(tmp_path):
    res = load_paths([CORPUS / "slack-prod.yaml"])
    text = (CORPUS / "slack-prod.yaml").read_text()
    assert [(p.line, p.message) for p in res.problems] == [
        (line_of(text, "flow: deploy-flow"), "Trigger `slack-prod`: command `/deploy` routes to flow `deploy-flow`, "
                                             "which is not defined (known flows: none)")]


def test_a_command_names_exactly_one_target():
    text = ("apiVersion: aof.dev/v1\nkind: Trigger\nmetadata: {name: t}\nspec:\n  type: Manual\n  commands:\n"
            "    /go: {flow: a, agent: b}\n")
    found = problems(text)
    assert len(found) == 1 and "exactly one of `flow`, `agent` or `fleet` (found flow, agent)" in found[0]


def test_a_relay_trigger_document_routes_one_path_to_one_flow(tmp_path):
    doc = ("apiVersion: aof.dev/v1\nkind: Trigger\nmetadata: {name: pd}\nspec:\n  type: PagerDuty\n  commands:\n"
           "    incident.triggered: {flow: deploy-flow}\n    incident.escalated: {flow: incident-flow}\n")
    (tmp_path / "flows.yaml").write_text(DEPLOY + "---\n" + INCIDENT + "---\n" + doc)
    res = load_paths([tmp_path])
    assert len(res.problems) == 1 and "one relay path starts one flow" in res.problems[0].message


def test_two_schedules_for_one_flow_are_an_error(tmp_path):
    own = flow("    type: Schedule\n    config: {cron: '@hourly'}\n", name="report")
    doc = ("apiVersion: aof.dev/v1\nkind: Trigger\nmetadata: {name: daily}\nspec:\n  type: Schedule\n"
           "  config: {cron: '0 9 * * *'}\n  commands:\n    /report: {flow: report}\n")
    (tmp_path / "f.yaml").write_text(own + "---\n" + doc)
    res = load_paths([tmp_path])
    assert [p.message for p in res.problems] == [
        "flow `report` already has a schedule (its own spec.trigger); a DAG has one schedule"]


def test_a_disabled_trigger_document_binds_nothing(tmp_path):
    doc = ("apiVersion: aof.dev/v1\nkind: Trigger\nmetadata: {name: t}\nspec:\n  type: Schedule\n  enabled: false\n"
           "  config: {cron: '0 9 * * *'}\n  commands:\n    /x: {flow: not-there}\n")
    (tmp_path / "t.yaml").write_text(doc)
    assert load_paths([tmp_path]).problems == []


def test_every_event_type_pagerduty_documents_validates_with_aofctl(tmp_path):
    """PagerDuty's "Event Types" table (../shared/corpora/pagerduty): every incident event validates as a
    trigger's event; the events about no incident (service.*, pagey.ping) are refused saying why."""
    import json
    import subprocess
    import sys

    from tests.locations import corpus

    table = json.loads((corpus("pagerduty") / "developer-docs/event-types.json").read_text())
    incident = sorted(e for e in table if e.startswith("incident."))
    assert len(incident) == 26 and {"incident.service_updated", "incident.role.assigned", "incident.task.created",
                                    "incident.action_invocation.updated"} <= set(incident)
    good = tmp_path / "all-events.yaml"
    good.write_text(flow(f"    type: PagerDuty\n    config: {{events: [{', '.join(incident)}]}}\n"))
    aofctl = str(Path(sys.executable).parent / "aofctl")
    out = subprocess.run([aofctl, "validate", "-f", str(good)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    for other in sorted(e for e in table if not e.startswith("incident.")):
        found = problems(flow(f"    type: PagerDuty\n    config: {{events: [{other}]}}\n"))
        assert len(found) == 1 and "about no incident" in found[0], (other, found)


def am_doc(config: str, commands: str = "    firing: {flow: alert-flow}\n") -> str:
    return ("apiVersion: aof.dev/v1\nkind: Trigger\nmetadata: {name: alerts}\nspec:\n  type: Alertmanager\n"
            f"  config:\n{config}  commands:\n{commands}")


ALERT_FLOW = flow("    type: Manual\n", name="alert-flow")


def test_an_alertmanager_trigger_document_binds_its_flow(tmp_path):
    """`kind: Trigger` with `type: Alertmanager`, as a flow's own trigger: its path, Basic or Bearer auth."""
    from aof_airflow.spec.trigger_docs import AlertmanagerTriggerSpec, bindings
    from aof_airflow.spec.triggers import AlertmanagerConfig, BasicAuth

    doc = am_doc("    path: /alerts/shop\n    run_per: alert\n    suppress_seconds: 900\n"
                 "    auth: {type: Basic, username: alertmanager, password: '${AM_RECEIVER}'}\n")
    (tmp_path / "f.yaml").write_text(ALERT_FLOW + "---\n" + doc)
    res = load_paths([tmp_path])
    assert res.problems == [], res.problems
    spec = res.triggers["alerts"].spec
    assert isinstance(spec, AlertmanagerTriggerSpec) and isinstance(spec.config, AlertmanagerConfig)
    assert isinstance(spec.config.auth, BasicAuth) and spec.config.auth.password == "${AM_RECEIVER}"
    assert (spec.config.path, spec.config.run_per, spec.config.suppress_seconds) == ("/alerts/shop", "alert", 900)
    [b] = bindings(res.triggers["alerts"])
    assert b.flow == "alert-flow" and b.events is None  # every signal of the path, whatever the command's name


@pytest.mark.parametrize("config,needle,message", [
    ("    path: /alerts\n", "path:", "spec.config: missing required key `auth`"),
    ("    auth: {type: Basic, username: am}\n", "auth:", "spec.config.auth: missing required key `password`"),
    ("    auth: {type: Digest, token: x}\n", "auth:", "spec.config.auth: unknown type `Digest`; known: Basic, Bearer"),
    ("    auth: {type: PagerDutySignature, secret: x}\n", "auth:", "unknown type `PagerDutySignature`"),
    ("    auth: {type: Bearer, token: x}\n    run_per: pod\n", "run_per", "Input should be 'group' or 'alert'"),
    ("    auth: {type: Bearer, token: x}\n    repeat_interval: 4h\n", "repeat_interval",
     "unknown key `repeat_interval` in spec.config"),
    ("    auth: {type: Bearer, token: x}\n    suppress_seconds: -5\n", "suppress_seconds", "greater than or equal to 0"),
    ("    path: alerts\n    auth: {type: Bearer, token: x}\n", "path:", "write an absolute URL path"),
    ("    auth: {type: Bearer, token: x}\n    events: [firing]\n", "events",
     "unknown key `events` in spec.config; known: auth, methods, path, run_per, suppress_seconds"),
], ids=["no auth", "basic without password", "unknown auth", "pagerduty signature", "run_per", "unknown key",
        "negative suppress", "relative path", "events filter nothing"])
def test_a_bad_alertmanager_trigger_document_is_an_error_at_its_line(tmp_path, config, needle, message):
    text = am_doc(config)
    (tmp_path / "f.yaml").write_text(ALERT_FLOW + "---\n" + text)
    found = load_paths([tmp_path]).problems
    assert len(found) == 1 and message in found[0].message, found
    assert found[0].file.endswith("f.yaml") and found[0].line == ALERT_FLOW.count("\n") + 1 + line_of(text, needle)


def test_an_alertmanager_trigger_document_routes_its_path_to_one_flow(tmp_path):
    doc = am_doc("    auth: {type: Bearer, token: x}\n",
                 "    firing: {flow: alert-flow}\n    other: {flow: deploy-flow}\n    triage: {agent: k8s}\n")
    (tmp_path / "f.yaml").write_text(ALERT_FLOW + "---\n" + DEPLOY + "---\n" + doc)
    res = load_paths([tmp_path])
    assert [p.message for p in res.problems] == [
        "Trigger `alerts` routes its path /alertmanager to several flows (alert-flow, deploy-flow); one relay path "
        "starts one flow: write one Trigger document per flow"]
    assert any("routes to agent `k8s`" in w.message for w in res.warnings)
