"""A real Airflow 3.3 stack (api-server, scheduler, dag-processor, triggerer) for integration tests.

Why a harness and not mocks: the relay, the DAG factory and the approval sensor are only correct if
real Airflow accepts what they produce. Each stack lives in its own temp AIRFLOW_HOME (SQLite +
LocalExecutor), listens on a free loopback port, and is stopped by killing whole process groups so
no orphan keeps a port or the SQLite file busy while other engineers run tests on the same machine.

    with AirflowStack(dags_dir, env={"AIRFLOW_CONN_SLACK_DEFAULT": ...}) as af:
        af.wait_for_dag("my_dag")
        af.trigger("my_dag", {"x": 1}, run_id="r1")
        assert af.wait_for_run("my_dag", "r1") == "success"
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

import httpx

ALL_PROCESSES = ("api-server", "scheduler", "dag-processor", "triggerer")
USERNAME = "admin"
PASSWORD = "admin"


def airflow_bin() -> str:
    """The airflow executable of the running interpreter's venv (never whatever is first on PATH)."""
    cand = Path(sys.executable).parent / "airflow"
    return str(cand) if cand.exists() else shutil.which("airflow") or "airflow"


def free_port() -> int:
    """An ephemeral loopback port (bind 0), so parallel test runs never collide on a fixed port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StackError(RuntimeError):
    pass


class AirflowStack:
    """Real Airflow processes under a temp AIRFLOW_HOME; use as a context manager."""

    def __init__(
        self,
        dags_folder: str | os.PathLike[str],
        *,
        processes: Iterable[str] = ALL_PROCESSES,
        env: Mapping[str, str] | None = None,
        config: Mapping[str, Mapping[str, Any]] | None = None,
        startup_timeout: float = 300.0,
        keep_home: bool = False,
    ) -> None:
        self.dags_folder = Path(dags_folder).resolve()
        self.processes = tuple(processes)
        unknown = set(self.processes) - set(ALL_PROCESSES)
        if unknown:
            raise ValueError(f"unknown airflow processes: {sorted(unknown)}")
        self.extra_env = dict(env or {})
        self.extra_config = {s: dict(kv) for s, kv in (config or {}).items()}
        self.startup_timeout = startup_timeout
        self.keep_home = keep_home
        self.home: Path | None = None
        self.port = 0
        self.base_url = ""
        self.username, self.password = USERNAME, PASSWORD
        self.startup_seconds: float | None = None
        self._procs: dict[str, subprocess.Popen] = {}
        self._logs: dict[str, Any] = {}
        self._env: dict[str, str] = {}
        self._token: str | None = None
        self._token_exp = 0.0
        self._client: httpx.Client | None = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> "AirflowStack":
        try:
            self.start()
        except BaseException:
            self.dump_logs()
            self.stop()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.dump_logs()
        self.stop()

    def start(self) -> None:
        t0 = time.monotonic()
        self.home = Path(tempfile.mkdtemp(prefix="aof-airflow-"))
        (self.home / "logs").mkdir()
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._env = self._build_env()
        self._migrate_db()
        for name in self.processes:
            self.start_process(name)
        if "api-server" in self.processes:
            self._wait_api_up()
        self.startup_seconds = time.monotonic() - t0

    def stop(self) -> None:
        for name in list(self._procs):
            self.stop_process(name)
        if self._client is not None:
            self._client.close()
            self._client = None
        for fh in self._logs.values():
            fh.close()
        self._logs.clear()
        if self.home and not self.keep_home:
            shutil.rmtree(self.home, ignore_errors=True)

    @property
    def env(self) -> dict[str, str]:
        """The environment the Airflow processes run with (for `airflow ...` CLI calls in tests)."""
        return dict(self._env)

    @property
    def db_url(self) -> str:
        return self._env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]

    def _build_env(self) -> dict[str, str]:
        assert self.home is not None
        pw_file = self.home / "passwords.json"
        pw_file.write_text(json.dumps({self.username: self.password}))
        cfg: dict[str, dict[str, Any]] = {
            "core": {
                "dags_folder": str(self.dags_folder),
                "executor": "LocalExecutor",
                "parallelism": 4,
                "load_examples": False,
                "dags_are_paused_at_creation": False,
                "auth_manager": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
                "simple_auth_manager_users": f"{self.username}:admin",
                "simple_auth_manager_passwords_file": str(pw_file),
                "execution_api_server_url": f"{self.base_url}/execution/",
                "fernet_key": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            },
            "database": {"sql_alchemy_conn": f"sqlite:///{self.home / 'airflow.db'}"},
            # The log servers default to fixed ports (8793/8794): parallel stacks would collide.
            "logging": {"base_log_folder": str(self.home / "logs" / "tasks"),
                        "worker_log_server_port": free_port(), "trigger_log_server_port": free_port()},
            "api": {"base_url": self.base_url, "host": "127.0.0.1", "port": self.port, "workers": 1,
                    "secret_key": secrets.token_hex(32)},
            "api_auth": {"jwt_secret": secrets.token_urlsafe(64)},
            "workers": {"min_heartbeat_interval": 1},
            "dag_processor": {"refresh_interval": 5},
        }
        for section, kv in self.extra_config.items():
            cfg.setdefault(section, {}).update(kv)
        # A developer's own AIRFLOW__* settings must not leak into the test stack.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k != "AIRFLOW_HOME"}
        env["AIRFLOW_HOME"] = str(self.home)
        env["PYTHONUNBUFFERED"] = "1"
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        for section, kv in cfg.items():
            for key, value in kv.items():
                env[f"AIRFLOW__{section.upper()}__{key.upper()}"] = _cfg_value(value)
        env.update(self.extra_env)
        return env

    def _migrate_db(self) -> None:
        """`airflow db migrate`, done once per Airflow version and copied: it costs ~7 s per stack.

        The template is a freshly migrated, empty SQLite file (no connections, no DAGs, nothing
        encrypted), so copying it is equivalent to migrating. AOF_HARNESS_NO_DB_TEMPLATE=1 disables it.
        """
        assert self.home is not None
        target = self.home / "airflow.db"
        if os.environ.get("AOF_HARNESS_NO_DB_TEMPLATE"):
            self._run_once("db-migrate", [airflow_bin(), "db", "migrate"], timeout=180)
            return
        template = _template_path()
        if not template.exists():
            self._run_once("db-migrate", [airflow_bin(), "db", "migrate"], timeout=180)
            tmp = template.with_suffix(f".{os.getpid()}.tmp")
            shutil.copyfile(target, tmp)
            os.replace(tmp, template)  # atomic: a concurrent run sees the whole file or none
        else:
            shutil.copyfile(template, target)

    def _log_path(self, name: str) -> Path:
        assert self.home is not None
        return self.home / "logs" / f"{name}.log"

    def _run_once(self, name: str, argv: list[str], timeout: float) -> None:
        with open(self._log_path(name), "ab") as fh:
            r = subprocess.run(argv, env=self._env, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout,
                               cwd=self.home, start_new_session=True)
        if r.returncode != 0:
            raise StackError(f"`{' '.join(argv[1:])}` failed with {r.returncode}; see {self._log_path(name)}")

    def airflow(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run an `airflow ...` CLI command against this stack; returns the completed process."""
        return subprocess.run([airflow_bin(), *args], env=self._env, capture_output=True, text=True,
                              timeout=timeout, cwd=self.home, start_new_session=True)

    # ------------------------------------------------------------------ processes

    def start_process(self, name: str) -> None:
        if name not in ALL_PROCESSES:
            raise ValueError(name)
        if name in self._procs and self._procs[name].poll() is None:
            return
        argv = [airflow_bin(), name]
        if name == "api-server":
            argv += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        fh = self._logs.get(name)
        if fh is None:
            fh = self._logs[name] = open(self._log_path(name), "ab")
        self._procs[name] = subprocess.Popen(argv, env=self._env, stdout=fh, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, cwd=self.home, start_new_session=True)
        if name == "api-server" and self.startup_seconds is not None:
            self._wait_api_up()

    def stop_process(self, name: str, timeout: float = 15.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever (incl. re-parented descendants) is left."""
        proc = self._procs.pop(name, None)
        if proc is None:
            return
        descendants = _descendants(proc.pid)
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(proc.pid, signal.SIGKILL)
        for p in descendants:
            try:
                p.kill()
            except Exception:
                pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def kill_process(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the whole group (a crash, for fault tests); the process stays registered."""
        proc = self._procs[name]
        _signal_group(proc.pid, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                pass

    def is_running(self, name: str) -> bool:
        p = self._procs.get(name)
        return p is not None and p.poll() is None

    def _wait_api_up(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            proc = self._procs.get("api-server")
            if proc is not None and proc.poll() is not None:
                raise StackError(f"api-server exited with {proc.returncode}; see {self._log_path('api-server')}")
            try:
                r = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=2)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise StackError(f"api-server not up after {self.startup_timeout}s")

    # ------------------------------------------------------------------ REST

    def token(self) -> str:
        """A JWT from POST /auth/token, cached until a minute before it expires."""
        if self._token is None or time.time() > self._token_exp - 60:
            r = httpx.post(f"{self.base_url}/auth/token", json={"username": self.username, "password": self.password},
                           timeout=10)
            r.raise_for_status()
            self._token = r.json()["access_token"]
            self._token_exp = _jwt_exp(self._token)
        return self._token

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """A REST call with the JWT (`path` like `/api/v2/dags`); gets a new token once if it was rejected."""
        if self._client is None:
            self._client = httpx.Client(base_url=self.base_url, timeout=60)
        for attempt in range(2):
            headers = {**kw.pop("headers", {}), "Authorization": f"Bearer {self.token()}"}
            r = self._client.request(method, path, headers=headers, **kw)
            if attempt or not _token_rejected(r):
                return r
            kw["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
            self._token = None
        return r

    def trigger(self, dag_id: str, conf: dict | None = None, run_id: str | None = None) -> dict:
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        r = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        if r.status_code >= 300:
            raise StackError(f"trigger {dag_id}: {r.status_code} {r.text}")
        return r.json()

    def wait_for_dag(self, dag_id: str, timeout: float = 60) -> dict:
        """Until the dag-processor has parsed `dag_id` (fails early with the import errors, if any)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                r = self.api("GET", f"/api/v2/dags/{dag_id}")
                if r.status_code == 200:
                    return r.json()
            except httpx.HTTPError:  # a busy (or restarting) api-server: keep waiting until the deadline
                pass
            time.sleep(0.5)
        raise StackError(f"DAG {dag_id!r} not loaded after {timeout}s; import errors: {self.import_errors()}")

    def get_run(self, dag_id: str, run_id: str) -> dict | None:
        r = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        return r.json() if r.status_code == 200 else None

    def list_runs(self, dag_id: str, **params: Any) -> list[dict]:
        r = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 1000, **params})
        r.raise_for_status()
        return r.json()["dag_runs"]

    def wait_for_run(self, dag_id: str, run_id: str, states: Iterable[str] = ("success", "failed"),
                     timeout: float = 120) -> str:
        want = set(states)
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            try:
                run = self.get_run(dag_id, run_id)
            except httpx.HTTPError:
                run = None
            state = run and run["state"] if run else state
            if state in want:
                return state
            time.sleep(0.5)
        raise StackError(f"run {dag_id}/{run_id} is {state!r}, not in {sorted(want)} after {timeout}s; "
                         f"tasks: {self.task_states(dag_id, run_id) if state else {}}")

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        r = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        r.raise_for_status()
        out: dict[str, str | None] = {}
        for ti in r.json()["task_instances"]:
            key = ti["task_id"] if ti.get("map_index", -1) == -1 else f"{ti['task_id']}[{ti['map_index']}]"
            out[key] = ti["state"]
        return out

    def import_errors(self) -> list[dict]:
        r = self.api("GET", "/api/v2/importErrors")
        r.raise_for_status()
        return r.json()["import_errors"]

    # ------------------------------------------------------------------ diagnostics

    def log_text(self, name: str) -> str:
        p = self._log_path(name)
        return p.read_text(errors="replace") if p.exists() else ""

    def dump_logs(self, tail: int = 12000) -> None:
        """Print the tail of every process log (called on failure)."""
        if not self.home or not (self.home / "logs").exists():
            return
        for p in sorted((self.home / "logs").glob("*.log")):
            text = p.read_text(errors="replace")
            print(f"\n===== {p.name} (last {tail} chars) =====\n{text[-tail:]}", file=sys.stderr)


def _template_path() -> Path:
    import hashlib

    import airflow

    migrations = Path(airflow.__file__).parent / "migrations" / "versions"
    names = sorted(p.name for p in migrations.glob("*.py")) if migrations.exists() else []
    key = hashlib.sha256(f"{airflow.__version__}|{'|'.join(names)}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"aof-airflow-dbtemplate-{os.getuid()}-{key}.sqlite"


def _cfg_value(v: Any) -> str:
    if isinstance(v, bool):
        return "True" if v else "False"
    return str(v)


def _token_rejected(r: httpx.Response) -> bool:
    """401 = missing/expired; 403 "Invalid JWT token" = e.g. signed with another secret."""
    return r.status_code == 401 or (r.status_code == 403 and "Invalid JWT token" in r.text)


def _jwt_exp(token: str) -> float:
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        return float(json.loads(base64.urlsafe_b64decode(payload))["exp"])
    except Exception:
        return time.time() + 300


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # start_new_session=True: pgid == pid
    except (ProcessLookupError, PermissionError):
        pass


def _descendants(pid: int) -> list:
    try:
        import psutil

        return psutil.Process(pid).children(recursive=True)
    except Exception:
        return []
