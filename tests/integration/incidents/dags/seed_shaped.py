"""A DAG shaped like the seed's incident-auto-response flow, driven by conf["scenario"].

Why not the seed DAG itself: the factory is written in parallel; this keeps the record tests about
records (the node ids, outputs and `aof_meta` are the ones the factory's operators produce).
"""

from __future__ import annotations

import time

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowSkipException

DIAG = {
    "severity": "high",
    "root_cause": "memory leak in api pods",
    "affected_components": ["api"],
    "impact": "slow responses",
    "recommended_action": "kubectl rollout restart deployment/api -n production",
    "requires_approval": False,
    "confidence": 0.9,
}


def _conf(ctx):
    return ctx["dag_run"].conf or {}


def _meta(ctx, model, inp, out, actions=()):
    ctx["ti"].xcom_push("aof_meta", {
        "text": "...", "model": model, "source": "llm",
        "usage": {"input_tokens": inp, "output_tokens": out, "calls": 1},
        "steps": 1, "tool_calls": [], "actions": list(actions), "notes": [],
    })


def parse_alert(**ctx):
    inc = _conf(ctx)["event"]["incident"]
    return {"INCIDENT_ID": inc["id"], "INCIDENT_TITLE": inc["title"], "INCIDENT_SERVICE": inc["service"]["name"],
            "INCIDENT_URGENCY": inc["urgency"], "INCIDENT_URL": inc["html_url"],
            "K8S_NAMESPACE": inc["custom_details"]["namespace"], "K8S_RESOURCE": inc["custom_details"]["resource"]}


def diagnose(**ctx):
    _meta(ctx, "anthropic:claude-3-5-sonnet-20241022", 1200, 300)
    d = dict(DIAG)
    if _conf(ctx).get("critical"):
        d.update(severity="critical", requires_approval=True)
    return d


def notify(**ctx):
    time.sleep(0.2)
    return {"channel": "#incidents", "ts": "1.0", "permalink": None}


def check(**ctx):
    crit = ctx["ti"].xcom_pull(task_ids="diagnose")["severity"] == "critical"
    return {"is_critical": crit, "needs_approval": crit}


def request_approval(**ctx):
    if not ctx["ti"].xcom_pull(task_ids="check-severity")["is_critical"]:
        raise AirflowSkipException("not critical")
    time.sleep(1.0)
    return {"reaction": _conf(ctx).get("reaction", "white_check_mark"), "user": "U0SRELEAD", "channel": "#incidents",
            "ts": "2.0"}


def auto_approve(**ctx):
    if ctx["ti"].xcom_pull(task_ids="check-severity")["is_critical"]:
        raise AirflowSkipException("critical")
    return {"APPROVED": "true"}


def remediate(**ctx):
    ap = ctx["ti"].xcom_pull(task_ids="request-approval")
    auto = ctx["ti"].xcom_pull(task_ids="auto-approve")
    if not ((auto or {}).get("APPROVED") == "true" or (ap or {}).get("reaction") == "white_check_mark"):
        raise AirflowSkipException("not approved")
    scenario = _conf(ctx).get("scenario")
    if scenario == "fail":
        raise RuntimeError("kubectl: connection refused")
    _meta(ctx, "openai:gpt-4", 800, 200, [{
        "command": "kubectl rollout restart deployment/api -n production",
        "dry_run": "deployment.apps/api restarted (server dry run)",
        "snapshot": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n",
        "result": "deployment.apps/api restarted", "ok": True}])
    return {"action_taken": "kubectl rollout restart deployment/api -n production",
            "result": "failed" if scenario == "escalate" else "success",
            "verification": "pods ready", "rollback_needed": scenario == "escalate", "logs": ""}


def verify(**ctx):
    _meta(ctx, "anthropic:claude-3-5-sonnet-20241022", 500, 100)
    return {"severity": "low", "root_cause": "resolved", "recommended_action": "none"}


def rem_failed(**ctx):
    return ctx["ti"].xcom_pull(task_ids="remediate")["result"] != "success"


def on_failed_path(expect: bool):
    def run(**ctx):
        if ctx["ti"].xcom_pull(task_ids="remediation-failed") is not expect:
            raise AirflowSkipException("condition false")
        if ctx["ti"].task_id == "rollback":
            return {"action_taken": "kubectl rollout undo deployment/api", "result": "success"}
        return {"channel": "#incidents", "ts": "3.0"}
    return run


# Written by hand, so its tags say which task plays which part (an AgentFlow's shape says it: spec/roles.py).
ROLES = ["aof.dev/role-approval:request-approval", "aof.dev/role-rollback:rollback", "aof.dev/role-escalate:escalate",
         "aof.dev/role-resolve:notify-success"]

with DAG("incident-auto-response-test", schedule=None, catchup=False, tags=["aof", *ROLES]) as dag:
    t = {name: PythonOperator(task_id=name, python_callable=fn) for name, fn in [
        ("parse-alert", parse_alert), ("diagnose", diagnose), ("notify-diagnosis", notify),
        ("check-severity", check), ("request-approval", request_approval), ("auto-approve", auto_approve),
    ]}
    t["remediate"] = PythonOperator(task_id="remediate", python_callable=remediate,
                                    trigger_rule="none_failed_min_one_success")
    for name, fn in [("verify-fix", verify), ("remediation-failed", rem_failed),
                     ("rollback", on_failed_path(True)), ("escalate", on_failed_path(True)),
                     ("notify-success", on_failed_path(False)), ("close-pagerduty", on_failed_path(False)),
                     ("log-incident", on_failed_path(False))]:
        t[name] = PythonOperator(task_id=name, python_callable=fn)
    t["parse-alert"] >> t["diagnose"] >> t["notify-diagnosis"] >> t["check-severity"]
    t["check-severity"] >> [t["request-approval"], t["auto-approve"]] >> t["remediate"]
    t["remediate"] >> t["verify-fix"] >> t["remediation-failed"] >> [t["rollback"], t["notify-success"]]
    t["rollback"] >> t["escalate"]
    t["notify-success"] >> t["close-pagerduty"] >> t["log-incident"]
