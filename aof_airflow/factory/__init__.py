"""AgentFlow YAML -> Airflow DAGs (docs/architecture.md).

  scan.py      find flows + agents (`[aof] flows_folder` / `agents_folder`), disk cache by file content,
               `build_dags()` = what dags/aof_flows.py calls
  builder.py   one flow -> one DAG (dag_id, docs, tags, params, rate limit, trigger rules, edges)
  registry.py  node type -> its operator (each operator registers the node types it runs)
  errors.py    a bad YAML file -> an Airflow import error of that file, at its line

Settings read here and by the operators (`[aof]` section, or AOF_<NAME> env): flows_folder (several
separated by `:`), agents_folder, cache_folder, slack_conn_id (default slack_default),
escalation_channel (default: the flow's first Slack channel), pagerduty_from, approvers.
"""
