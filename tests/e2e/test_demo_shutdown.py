"""The demo's clean-up does not depend on the terminal: SIGINT, SIGTERM, SIGHUP, or a stdout whose reader
died each end every process it started (here: the demo's own machinery -- Shutdown + ManagedProcesses --
driving children in their own sessions, as Airflow's are; the whole demo is in test_second_terminal.py)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.timeout(120)

DEMO = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    from aof_lab.local.processes import ManagedProcesses
    from aof_lab.local.shutdown import Interrupted, Shutdown, end_children, say

    shutdown = Shutdown(poll_seconds=0.2).install()
    procs = ManagedProcesses(Path(sys.argv[1]), {"PATH": "/usr/bin:/bin"})
    try:
        for i in range(3):  # each in its own session, with a child of its own, like Airflow's processes
            procs.start(f"p{i}", ["sh", "-c", "sleep 600 & sleep 600"])
        say("started " + " ".join(str(procs.pid(n)) for n in procs.names()))
        while True:
            say("tick", on_lost=lambda: shutdown.output_lost("stdout closed"))
            time.sleep(0.3)
    except (Interrupted, KeyboardInterrupt, BrokenPipeError):
        pass
    finally:
        shutdown.shield()
        say(f"stopping ({shutdown.reason})", err=True)
        procs.stop_all()
        end_children()
        say("stopped", err=True)
''')


def launch(tmp_path: Path, stdout) -> tuple[subprocess.Popen, list[int]]:
    script = tmp_path / "demo.py"
    script.write_text(DEMO)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "lab"),
                                                         os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "logs")], stdout=stdout,
                            stderr=open(tmp_path / "stderr", "w"), env=env, start_new_session=True)
    return proc, []


def family(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def wait_started(proc: subprocess.Popen, read_line) -> list[psutil.Process]:
    line = read_line()
    assert line.startswith("started"), line
    deadline = time.monotonic() + 10
    while len(kids := family(proc.pid)) < 9:  # 3 sh, each with 2 sleeps
        assert time.monotonic() < deadline, kids
        time.sleep(0.05)
    return kids


def piped_and_reader_dead(tmp_path: Path) -> tuple[subprocess.Popen, list[psutil.Process]]:
    """The demo writing into a pipe (`| tee`), started; then the pipe's reader closes its end."""
    r, w = os.pipe()
    proc, _ = launch(tmp_path, w)
    os.close(w)
    with os.fdopen(r, "r") as reader:
        kids = wait_started(proc, reader.readline)
    return proc, kids


def assert_all_gone(procs: list[psutil.Process]) -> None:
    _gone, alive = psutil.wait_procs(procs, timeout=20)
    assert alive == [], f"left running: {alive}"


def test_piped_ctrl_c_with_the_reader_dead_first_leaves_no_process(tmp_path):
    """`make demo | tee log` and Ctrl-C: tee dies, the demo gets SIGINT, then every write would fail."""
    proc, kids = piped_and_reader_dead(tmp_path)  # the pipe's reader is gone ...
    os.killpg(proc.pid, signal.SIGINT)  # ... and the same Ctrl-C reaches the demo's process group
    assert proc.wait(60) == 0
    assert_all_gone(kids)
    assert "stopped" in (tmp_path / "stderr").read_text()


def test_a_closed_stdout_alone_stops_everything(tmp_path):
    """No signal at all: `aofctl demo | head -3`, the reader exits."""
    proc, kids = piped_and_reader_dead(tmp_path)
    assert proc.wait(60) == 0
    assert_all_gone(kids)
    err = (tmp_path / "stderr").read_text()
    assert "stopping (stdout closed)" in err and "stopped" in err, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_everything(tmp_path, sig):
    out = open(tmp_path / "stdout", "w+")
    proc, _ = launch(tmp_path, out)
    deadline = time.monotonic() + 10
    while not (tmp_path / "stdout").read_text().startswith("started"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    kids = wait_started(proc, lambda: (tmp_path / "stdout").read_text().splitlines()[0])
    os.kill(proc.pid, sig)
    assert proc.wait(60) == 0
    assert_all_gone(kids)
    assert f"stopping ({signal.Signals(sig).name})" in (tmp_path / "stderr").read_text()


def test_the_stdout_watch_sees_a_dead_reader(tmp_path):
    """What the watcher relies on: poll() on a pipe's write end reports POLLERR once the reader is gone."""
    r, w = os.pipe()
    p = select.poll()
    p.register(w, select.POLLERR | select.POLLHUP)
    assert p.poll(0) == []
    os.close(r)
    assert p.poll(0) and p.poll(0)[0][1] & select.POLLERR
    os.close(w)
