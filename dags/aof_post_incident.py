"""Airflow DAG file: the daily post-incident report (aof_airflow.factory.daily_report), `@daily`, catchup off."""

from aof_airflow.factory.daily_report import build_daily_dag

dag = build_daily_dag()
