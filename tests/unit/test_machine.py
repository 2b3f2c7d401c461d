"""What a test does where the machine lacks something: skips saying what is missing and how to get it, installs
Debian's package first when it can (root with apt-get), and fails for a missing corpus when CI requires it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import locations
from tests.harness import machine

Skipped = pytest.skip.Exception
Failed = pytest.fail.Exception


@pytest.fixture
def bare_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding only what the test puts there (plus `sh` for the scripts it writes)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink("/bin/sh", bin_dir / "sh")
    monkeypatch.setenv("PATH", str(bin_dir))
    machine._apt_install.cache_clear()
    yield bin_dir
    machine._apt_install.cache_clear()


def script(bin_dir: Path, name: str, body: str) -> Path:
    p = bin_dir / name
    p.write_text(f"#!/bin/sh\n{body}\n")
    p.chmod(0o755)
    return p


def test_a_missing_program_skips_saying_what_it_is_for_and_how_to_get_it(bare_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(Skipped) as e:
        machine.require("redis-server")
    why = str(e.value)
    assert why.startswith("redis-server on the PATH is missing (the distributed tests start a private Redis")
    assert "not running as root, so the suite cannot install it" in why
    assert why.endswith("to get it: apt-get install -y redis-server")
    assert machine.missing("npm") == ("npm on the PATH is missing (the MCP test installs mcp-server-kubernetes from "
                                      "npm and runs it with node); to get it: apt-get install -y npm (or Node.js "
                                      "from https://nodejs.org/)")


def test_as_root_debians_package_is_installed_once_then_used(bare_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    log = bare_path.parent / "apt.log"
    script(bare_path, "apt-get", f'echo "$*" >> {log}\n'
                                 f'if [ "$1" = install ]; then printf "#!/bin/sh\\n" > {bare_path}/redis-server; '
                                 f'/bin/chmod +x {bare_path}/redis-server; fi')
    assert machine.require("redis-server") == str(bare_path / "redis-server")
    assert machine.require("redis-server") == str(bare_path / "redis-server")
    assert log.read_text().splitlines() == ["update -qq", "install -y -qq redis-server"]


def test_as_root_a_failed_install_skips_with_apts_own_words(bare_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    script(bare_path, "apt-get", 'if [ "$1" = install ]; then echo "E: Unable to locate package npm" >&2; exit 100; fi')
    with pytest.raises(Skipped) as e:
        machine.require("npm")
    assert "apt-get install npm failed: E: Unable to locate package npm" in str(e.value)
    assert "to get it: apt-get install -y npm" in str(e.value)


def test_chromium_counts_only_at_its_debian_path(bare_path, monkeypatch):
    script(bare_path, "chromium", "exit 0")  # Playwright is given /usr/bin/chromium, not whatever is on the PATH
    monkeypatch.setattr(machine, "_found", lambda p: None if p.name == "chromium" else bare_path / p.name)
    assert machine.missing("chromium").startswith("/usr/bin/chromium is missing (the browser tests drive Debian's")


def test_postgres_missing_says_how_to_get_one(bare_path):
    why = machine.postgres_missing()
    assert why.startswith("PostgreSQL's client programs (createdb, dropdb, psql) are not on the PATH")
    assert "apt-get install -y postgresql" in why and "host all all 127.0.0.1/32 trust" in why
    for tool in ("createdb", "dropdb"):
        script(bare_path, tool, "exit 0")
    script(bare_path, "psql", 'echo "psql: error: connection to server at \\"127.0.0.1\\", port 5432 failed: '
                              'Connection refused" >&2; exit 2')
    why = machine.postgres_missing()
    assert why.startswith("no PostgreSQL server lets user postgres in on 127.0.0.1:5432 (psql: error: connection")
    assert "Connection refused" in why
    with pytest.raises(Skipped):
        machine.require_postgres()
    script(bare_path, "psql", "echo 1")
    assert machine.postgres_missing() is None


def test_a_missing_corpus_skips_naming_its_folder_and_fails_when_required(tmp_path, monkeypatch):
    monkeypatch.setattr(locations, "CORPORA", tmp_path / "shared" / "corpora")
    monkeypatch.delenv("AOF_REQUIRE_CORPORA", raising=False)
    lazy = locations.CorpusDir("pagerduty")
    with pytest.raises(Skipped, match=r"published corpus 'pagerduty' is not beside this checkout \(expected .*"
                                      r"shared/corpora/pagerduty\)"):
        lazy / "signed"
    monkeypatch.setenv("AOF_REQUIRE_CORPORA", "1")
    with pytest.raises(Failed, match="AOF_REQUIRE_CORPORA is set, so a missing corpus is a failure"):
        locations.corpus("pagerduty")
    (tmp_path / "shared" / "corpora" / "pagerduty").mkdir(parents=True)
    assert lazy / "signed" == tmp_path / "shared" / "corpora" / "pagerduty" / "signed"


def test_the_tutorials_files_are_read_from_the_repository():
    for p in (locations.SEED_FLOW, locations.SEED_PAYLOAD_NONCRITICAL, locations.SEED_PAYLOAD_CRITICAL,
              locations.SEED_AGENTS / "diagnostic-agent.yaml", locations.SEED_SNIPPETS / "snippet-rate-limit.yaml"):
        assert p.is_file() and p.is_relative_to(locations.REPO), p


def test_another_users_incident_files_are_named_with_how_to_remove_them(tmp_path):
    mine = tmp_path / "incident-TEST001.json"
    mine.write_text("{}")
    assert machine.incident_files_of_another_user(tmp_path) is None
    if os.getuid() != 0:
        pytest.skip("giving files to other users needs root")
    os.chown(mine, 4242, 4242)
    theirs = tmp_path / "incident-TEST002.json"
    theirs.write_text("{}")
    os.chown(theirs, 65534, 65534)
    why = machine.incident_files_of_another_user(tmp_path, uid=4242)
    assert why and str(theirs) in why and str(mine) not in why and "sudo rm /tmp/incident-*.json" in why
    as_root = machine.incident_files_of_another_user(tmp_path, uid=0)
    assert (as_root is None) is (not machine.protected_regular())  # root replaces it unless the kernel forbids
