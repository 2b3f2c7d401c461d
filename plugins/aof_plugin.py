"""Shim for deployments that mount a plugins folder instead of installing the entry point."""

from aof_airflow.plugin import AofPlugin  # noqa: F401
