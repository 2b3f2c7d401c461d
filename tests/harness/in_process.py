"""The environment of an Airflow run inside one process (`dag.test()` in a subprocess): no servers.

Shared by the tests that run a DAG in-process against stand-ins; the servers' environment is
`aof_lab.local.stack.LocalAirflow`'s. Nothing of the caller's Airflow, aof or LLM (Anthropic, OpenAI, Gemini) settings leaks in.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def in_process_env(home: Path, dags: Path, **extra: str) -> dict[str, str]:
    private = ("AIRFLOW", "AOF_", "ANTHROPIC", "OPENAI", "GEMINI", "GOOGLE_API_KEY", "GOOGLE_GEMINI", "GOOGLE_GENAI")
    env = {k: v for k, v in os.environ.items() if not k.startswith(private)}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AOF_CACHE_FOLDER": str(home / "aof-cache"),
        "AOF_MEMORY_DIR": str(home / "memory"),
        "PYTHONPATH": str(REPO),
        **extra,
    })
    return env
