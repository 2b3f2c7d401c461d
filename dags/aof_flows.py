"""Airflow DAG file: one DAG per AgentFlow YAML in the flows folder (`[aof] flows_folder`, default dags/flows).

Each flow's DAG id is its `metadata.name`. A bad YAML file shows up as an import error of that file (with
its line) and does not hide the other flows. The word "DAG" here keeps Airflow's safe-mode scan reading us.
"""

from aof_airflow.factory.scan import build_dags

globals().update(build_dags())
