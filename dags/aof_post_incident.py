"""Airflow DAG file: the daily post-incident report (aof_airflow.incidents.report), `@daily`, catchup off."""

from aof_airflow.incidents.report import build_daily_dag

dag = build_daily_dag()
