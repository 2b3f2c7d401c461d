"""Real Airflow 3.3 processes on this machine: api-server, scheduler, dag-processor, triggerer, Celery workers.

One configuration for `make demo`, the tests and the native multi-process (CeleryExecutor) topology, so
what the tests prove is what the demo runs. Settings that matter on a small machine are set here:
`min_heartbeat_interval=1` (a short deferral otherwise sometimes fails), `refresh_interval=5` (a new flow
file is seen in seconds, not five minutes), examples off, DAGs unpaused at creation.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import json
import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

from aof_airflow.airflow_rest import AirflowAPI
from aof_lab.local.processes import ManagedProcesses

AIRFLOW_PROCESSES = ("api-server", "scheduler", "dag-processor", "triggerer")
USERNAME = "admin"


def airflow_bin() -> str:
    """The airflow executable of the running interpreter's venv, never whatever is first on PATH."""
    cand = Path(sys.executable).parent / "airflow"
    return str(cand) if cand.exists() else shutil.which("airflow") or "airflow"


def free_port(preferred: int = 0) -> int:
    """`preferred` when it is free, else an ephemeral loopback port."""
    for port in ((preferred, 0) if preferred else (0,)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError("no free port")


class LocalAirflow:
    """Airflow under `home` (SQLite + LocalExecutor by default; Postgres + Celery when given)."""

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        *,
        port: int = 0,
        processes: Iterable[str] = AIRFLOW_PROCESSES,
        celery_workers: int = 0,
        db_url: str | None = None,
        broker_url: str | None = None,
        env: Mapping[str, str] | None = None,
        config: Mapping[str, Mapping[str, Any]] | None = None,
        password: str | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.home = Path(home).resolve()
        self.dags_folder = Path(dags_folder).resolve()
        self.processes = tuple(processes)
        unknown = set(self.processes) - set(AIRFLOW_PROCESSES)
        if unknown:
            raise ValueError(f"unknown airflow processes: {sorted(unknown)}")
        self.celery_workers = celery_workers
        self.db_url = db_url or f"sqlite:///{self.home / 'airflow.db'}"
        self.broker_url = broker_url
        self.port = free_port(port)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.username = USERNAME
        self.password = password or self._stored_password()
        self.extra_env = dict(env or {})
        self.extra_config = {s: dict(kv) for s, kv in (config or {}).items()}
        self.startup_timeout = startup_timeout
        self.startup_seconds: float | None = None
        self.env = self._build_env()
        self.procs = ManagedProcesses(self.home / "logs", self.env, cwd=self.home)
        self.client = AirflowAPI(self.base_url, self.username, self.password)

    # --------------------------------------------------------------------------------- settings

    def _stored_password(self) -> str:
        """A random password kept in the home, so a restarted demo keeps its login."""
        self.home.mkdir(parents=True, exist_ok=True)
        f = self.home / "passwords.json"
        if f.exists():
            return json.loads(f.read_text())[USERNAME]
        pw = secrets.token_urlsafe(12)
        f.write_text(json.dumps({USERNAME: pw}))
        f.chmod(0o600)
        return pw

    def _secret(self, name: str, nbytes: int) -> str:
        """Random bytes (url-safe base64) kept in the home: every process, and a restart, see the same."""
        f = self.home / f".{name}"
        if not f.exists():
            f.write_text(base64.urlsafe_b64encode(os.urandom(nbytes)).decode())
            f.chmod(0o600)
        return f.read_text()

    def _build_env(self) -> dict[str, str]:
        pw_file = self.home / "passwords.json"
        pw_file.write_text(json.dumps({self.username: self.password}))
        celery = self.celery_workers > 0
        cfg: dict[str, dict[str, Any]] = {
            "core": {
                "dags_folder": str(self.dags_folder),
                "executor": "CeleryExecutor" if celery else "LocalExecutor",
                "parallelism": 4,
                "load_examples": False,
                "dags_are_paused_at_creation": False,
                "auth_manager": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
                "simple_auth_manager_users": f"{self.username}:admin",
                "simple_auth_manager_passwords_file": str(pw_file),
                "execution_api_server_url": f"{self.base_url}/execution/",
                "fernet_key": self._secret("fernet", 32),  # Fernet: url-safe base64 of 32 bytes
            },
            "database": {"sql_alchemy_conn": self.db_url},
            # The log servers default to fixed ports (8793/8794): parallel stacks on one machine would collide.
            "logging": {"base_log_folder": str(self.home / "logs" / "tasks"),
                        "worker_log_server_port": free_port(), "trigger_log_server_port": free_port()},
            "api": {"base_url": self.base_url, "host": "127.0.0.1", "port": self.port, "workers": 1,
                    "secret_key": self._secret("api-secret", 32)},
            "api_auth": {"jwt_secret": self._secret("jwt-secret", 64)},
            # a busy api-server (one worker on a small machine) can take 30-40 s to answer a task's first call;
            # at the default 5 s the worker retries a request the server already applied, gets a 400, and fails
            "workers": {"min_heartbeat_interval": 1, "execution_api_timeout": 120},
            "dag_processor": {"refresh_interval": 5},
            "scheduler": {"enable_health_check": False},
        }
        if celery:
            cfg["celery"] = {"broker_url": self.broker_url or "redis://127.0.0.1:6379/0",
                             # keep the driver: a bare postgresql:// means psycopg 3 to SQLAlchemy 2.1, not installed
                             "result_backend": "db+" + self.db_url,
                             # a broker outage delays a task's publish instead of failing it (see celery_config)
                             "celery_config_options": "aof_airflow.celery_config.CELERY_CONFIG",
                             "task_publish_max_retries": 120}
        for section, kv in self.extra_config.items():
            cfg.setdefault(section, {}).update(kv)
        # our settings too (AOF_<NAME> == [aof] <name>), so airflow.cfg alone is the whole configuration
        cfg["aof"] = {"database_url": self.db_url, **{k[4:].lower(): v for k, v in self.extra_env.items()
                                                       if k.startswith("AOF_") and v}, **cfg.get("aof", {})}
        self.config = cfg
        # A developer's own AIRFLOW__* settings must not leak into this Airflow.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k != "AIRFLOW_HOME"}
        env.update(AIRFLOW_HOME=str(self.home), PYTHONUNBUFFERED="1", NO_PROXY="127.0.0.1,localhost",
                   no_proxy="127.0.0.1,localhost",
                   # our tables share Airflow's database; task processes are not told its URL (see aof_airflow.db)
                   AOF_DATABASE_URL=self.db_url)
        for section, kv in cfg.items():
            for key, value in kv.items():
                env[f"AIRFLOW__{section.upper()}__{key.upper()}"] = _cfg_value(value)
        env.update(self.extra_env)
        return env

    # -------------------------------------------------------------------------------- lifecycle

    def __enter__(self) -> LocalAirflow:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write_config(self) -> Path:
        """`airflow.cfg` in the home with everything the processes get from their environment, so a second
        terminal with only AIRFLOW_HOME set (the `airflow` CLI, `aofctl`) sees the same Airflow."""
        parser = configparser.ConfigParser(interpolation=None)
        for section, kv in self.config.items():
            parser[section] = {k: _cfg_value(v) for k, v in kv.items()}
        path = self.home / "airflow.cfg"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            fh.write("# written by aof_lab.local.stack for this home; the processes get the same as AIRFLOW__*\n")
            parser.write(fh)
        tmp.chmod(0o600)  # it holds the fernet key, the JWT secret and the API password
        tmp.replace(path)
        return path

    def start(self) -> None:
        t0 = time.monotonic()
        self.write_config()
        self.migrate()
        for name in self.processes:
            self.start_process(name)
        for i in range(1, self.celery_workers + 1):
            self.start_process(f"worker-{i}")
        if "api-server" in self.processes:
            self.wait_api_up()
        self.startup_seconds = time.monotonic() - t0

    def stop(self) -> None:
        self.procs.stop_all()
        self.client.close()

    def migrate(self) -> None:
        """`airflow db migrate` (~7 s); an empty SQLite DB is copied from a per-version template instead."""
        target = self.home / "airflow.db"
        argv = [airflow_bin(), "db", "migrate"]
        if not self.db_url.startswith("sqlite") or target.exists() or os.environ.get("AOF_NO_DB_TEMPLATE"):
            self.procs.run("db-migrate", argv, timeout=300)
            return
        template = _template_path()
        if template.exists():
            shutil.copyfile(template, target)
            return
        self.procs.run("db-migrate", argv, timeout=300)
        tmp = template.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(target, tmp)
        os.replace(tmp, template)  # atomic: a concurrent run sees the whole file or none

    def argv(self, name: str) -> list[str]:
        if name.startswith("worker-"):
            n = name.split("-", 1)[1]
            argv = [airflow_bin(), "celery", "worker", "--celery-hostname", f"worker{n}@%h", "--concurrency", "4"]
            # one log server per machine port: the first worker serves task logs, the others skip it
            return argv if n == "1" else argv + ["--skip-serve-logs"]
        argv = [airflow_bin(), name]
        if name == "api-server":
            argv += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        return argv

    def start_process(self, name: str) -> None:
        self.procs.start(name, self.argv(name))
        if name == "api-server" and self.startup_seconds is not None:
            self.wait_api_up()

    def wait_api_up(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            code = self.procs.exit_code("api-server")
            if code is not None:
                raise RuntimeError(f"api-server exited with {code}:\n{self.procs.log_tail('api-server', 3000)}")
            if self.client.healthy():
                return
            time.sleep(0.2)
        raise RuntimeError(f"api-server not up after {self.startup_timeout}s; see {self.procs.log_path('api-server')}")

    def dump_logs(self, chars: int = 12000) -> None:
        for p in sorted(self.procs.log_dir.glob("*.log")):
            print(f"\n===== {p.name} (last {chars} chars) =====\n{p.read_text(errors='replace')[-chars:]}",
                  file=sys.stderr)


def _cfg_value(value: Any) -> str:
    return ("True" if value else "False") if isinstance(value, bool) else str(value)


def _template_path() -> Path:
    import airflow

    migrations = Path(airflow.__file__).parent / "migrations" / "versions"
    names = sorted(p.name for p in migrations.glob("*.py")) if migrations.exists() else []
    key = hashlib.sha256(f"{airflow.__version__}|{'|'.join(names)}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"aof-airflow-dbtemplate-{os.getuid()}-{key}.sqlite"
