"""Skips a user can act on: each reported at the skipped test (not where `pytest.skip` was called, e.g. in
tests/locations.py), and counted by reason at the end of the run (with `-rs`, set in pyproject.toml, listing
every one)."""

from __future__ import annotations

import collections

import pytest

# Run alone, one after another, on one worker: the tutorial's runs share its incident ids (and their
# /tmp/incident-<id>.json records), the distributed ones this machine's PostgreSQL and Redis.
EXCLUSIVE = ("tests/e2e/", "tests/distributed/")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Under pytest-xdist (`make test` runs two workers): a file's tests stay together on one worker, in order (a
    module's Airflow stack is started once; a module may sum up what its tests saw), and the end-to-end and
    distributed files share one worker, one after another. (A scheduler, not `xdist_group` marks: xdist 3.8's
    loadgroup renames test ids through an attribute pytest 9 no longer has, and silently spreads every test.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "exclusive" if path.startswith(EXCLUSIVE) else path

    return ByFile(config, log)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.skipped and isinstance(report.longrepr, tuple) and not hasattr(report, "wasxfail"):
        path, line = item.reportinfo()[:2]
        report.longrepr = (str(path), (line or 0) + 1, report.longrepr[2])
    return report


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    reasons = collections.Counter(r.longrepr[2].removeprefix("Skipped: ")
                                  for r in terminalreporter.stats.get("skipped", []) if isinstance(r.longrepr, tuple))
    if not reasons:
        return
    terminalreporter.section("skipped tests, by reason")
    for reason, n in reasons.most_common():
        terminalreporter.write_line(f"{n:4d} skipped: {reason}")


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch):
    """The local Anthropic + OpenAI + Gemini API stand-in, with the SDKs pointed at it."""
    from tests.fakes.llm_api import FakeLLM

    with FakeLLM() as fake:
        for k, v in fake.env().items():
            monkeypatch.setenv(k, v)
        yield fake


# Tests that run the tutorial's flow on real Airflow with its own incident ids (TEST00x, DIST-*, am-*).
_RUNS_THE_TUTORIAL_FLOW = ("e2e", "distributed")


@pytest.fixture(autouse=True)
def _tutorial_files_free(request: pytest.FixtureRequest) -> None:
    if request.node.path.parent.name in _RUNS_THE_TUTORIAL_FLOW:
        from tests.harness import machine

        why = machine.incident_files_of_another_user()
        if why:
            pytest.skip(why)
