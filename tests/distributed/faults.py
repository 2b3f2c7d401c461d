"""Crashes for the fault tests: find the Celery worker whose task process runs a given task instance, and kill
it the way a lost machine dies (SIGKILL to the worker, its pool and the task process; nothing cleans up)."""

from __future__ import annotations

import signal

import psutil

from aof_lab.local.stack import LocalAirflow


def task_process_worker(airflow: LocalAirflow, ti_id: str) -> str | None:
    """The worker (`worker-N`) with a descendant titled `airflow worker -- <ti id>` (the Task SDK's title)."""
    for name in airflow.procs.names():
        if not name.startswith("worker-") or not airflow.procs.is_running(name):
            continue
        for child in psutil.Process(airflow.procs.pid(name)).children(recursive=True):
            try:
                if ti_id in " ".join(child.cmdline()):
                    return name
            except psutil.Error:
                continue
    return None


def crash_worker(airflow: LocalAirflow, name: str) -> list[int]:
    """SIGKILL the worker's process group and every descendant (a task runner may have left the group)."""
    descendants = psutil.Process(airflow.procs.pid(name)).children(recursive=True)
    airflow.procs.kill(name, signal.SIGKILL)
    killed = []
    for p in descendants:
        try:
            p.kill()
            killed.append(p.pid)
        except psutil.NoSuchProcess:
            killed.append(p.pid)  # already gone with the group
    return killed
