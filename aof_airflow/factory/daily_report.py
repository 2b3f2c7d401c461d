"""The daily post-incident DAG: the tutorial's `daily-analysis` -> `send-report`, fed from our incident records.

Why a Python DAG and not a flow YAML: the analyst must read the records of the last 24 h (every run,
not only the `/tmp/incident-*.json` files the success path writes), and an empty day must post a short
line without calling the model. The two tutorial nodes are built from spec models and run by the
factory's own operators (AgentOperator -> agent runtime, SlackMessageOperator -> SlackHook), so
templating, conditions, masking and token accounting are exactly those of any flow.

    collect-incidents --> daily-analysis (if HAS_INCIDENTS) --> send-report
                     \\--> no-incidents   (if not)
"""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import DAG

from aof_airflow.config import agents_folder
from aof_airflow.incidents.report import AGENT, CHANNEL, DAG_ID, NO_INCIDENTS, PROMPT, TAG, CollectIncidentsOperator
from aof_airflow.operators.agent import AgentOperator
from aof_airflow.operators.slack import SlackMessageOperator
from aof_airflow.spec.loader import load_paths
from aof_airflow.spec.models import Agent, AgentNode, SlackNode


def load_agent(name: str = AGENT) -> Agent:
    loaded = load_paths([agents_folder()], check_graph=False)
    agent = loaded.agents.get(name)
    if agent is None:
        raise LookupError(f"{DAG_ID}: no Agent named {name!r} in {agents_folder()} "
                          f"(found: {', '.join(sorted(loaded.agents)) or 'none'})")
    return agent


def build_daily_dag(*, agent: Agent | None = None, channel: str = CHANNEL, schedule: str | None = "@daily",
                    hours: float = 24, dag_id: str = DAG_ID) -> DAG:
    agent = agent or load_agent()
    gate = lambda when: [{"from": "collect-incidents", "when": when}]
    analysis = AgentNode.model_validate({"id": "daily-analysis", "type": "Agent", "conditions": gate("HAS_INCIDENTS == true"),
                                         "config": {"agent": agent.name, "input": PROMPT}})
    send = SlackNode.model_validate({"id": "send-report", "type": "Slack",
                                     "config": {"channel": channel, "message": "${daily-analysis.output}"}})
    empty = SlackNode.model_validate({"id": "no-incidents", "type": "Slack", "conditions": gate("HAS_INCIDENTS == false"),
                                      "config": {"channel": channel, "message": NO_INCIDENTS}})
    with DAG(
        dag_id=dag_id,
        schedule=schedule,
        start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        max_active_runs=1,
        tags=[TAG],
        description="Daily post-incident analysis of the last 24 h of incident records, posted to Slack",
        doc_md=__doc__,
    ) as dag:
        collect = CollectIncidentsOperator(task_id="collect-incidents", hours=hours)
        common = dict(flow_name=dag_id, transforms=["collect-incidents"])
        run = AgentOperator(task_id="daily-analysis", node=analysis, agent=agent, ancestors=["collect-incidents"], **common)
        post = SlackMessageOperator(task_id="send-report", node=send, ancestors=["collect-incidents", "daily-analysis"],
                                    **common)
        none = SlackMessageOperator(task_id="no-incidents", node=empty, ancestors=["collect-incidents"], **common)
        collect >> run >> post
        collect >> none
    return dag
