"""Group commit (one transaction for the webhooks arriving together) and the outbox writes built on it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from aof_airflow.relay.dispatcher import Dispatcher
from aof_airflow.relay.group_commit import GroupCommit
from aof_airflow.relay.outbox import DELIVERED, FAILED, PENDING, Outbox, delivered, failed, retry
from aof_airflow.relay.settings import RelaySettings


def test_callers_arriving_together_share_a_write_and_get_their_own_result():
    batches: list[list[int]] = []
    gate = threading.Event()

    def write(items: list[int]) -> list[int]:
        gate.wait(5)  # hold the first write so the others queue up behind it
        batches.append(items)
        return [i * 10 for i in items]

    gc: GroupCommit[int, int] = GroupCommit(write, name="t")
    futures = [gc.submit(0)]
    time.sleep(0.05)
    futures += [gc.submit(i) for i in range(1, 20)]
    gate.set()
    assert [f.result(5) for f in futures] == [i * 10 for i in range(20)]
    assert batches == [[0], list(range(1, 20))]
    gc.close()


def test_a_failing_item_fails_only_its_own_caller():
    gate = threading.Event()

    def write(items: list[int]) -> list[int]:
        gate.wait(5)
        if 13 in items:
            raise ValueError("unlucky")
        return items

    gc: GroupCommit[int, int] = GroupCommit(write, name="t")
    first = gc.submit(1)
    time.sleep(0.05)
    rest = {i: gc.submit(i) for i in (12, 13, 14)}
    gate.set()
    assert first.result(5) == 1 and rest[12].result(5) == 12 and rest[14].result(5) == 14
    with pytest.raises(ValueError, match="unlucky"):
        rest[13].result(5)
    gc.close()


def test_close_writes_what_was_handed_over():
    done: list[int] = []
    gc: GroupCommit[int, None] = GroupCommit(lambda items: [done.append(i) for i in items], name="t")
    futures = [gc.submit(i) for i in range(50)]
    gc.close()
    assert all(f.done() for f in futures) and done == list(range(50))


def _row(i: int, webhook: str | None = None, run: str | None = None) -> dict:
    return dict(flow="f", dag_id="d", dag_run_id=run or f"pd-{i}", webhook_id=webhook, event_type="incident.triggered",
                incident_id=str(i), source="tutorial", needs_details=False, conf={"i": i})


@pytest.fixture(params=["sqlite", "postgresql"])
def outbox_url(request, tmp_path: Path):
    """The relay-only SQLite file, and Postgres (several relays share the metadata DB there)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'o.db'}"
        return
    from tests.distributed.services import PostgresDatabase
    from tests.harness import machine

    machine.require_postgres()
    db = PostgresDatabase(prefix="aof_outbox").start()
    try:
        yield db.url
    finally:
        from aof_airflow import db as aof_db

        eng = aof_db._engines.pop(db.url, None)
        if eng is not None:
            eng.dispose()
        db.stop()


def test_concurrent_duplicates_store_one_row_each(outbox_url: str):
    """200 threads, 50 distinct deliveries, each sent 4 times (twice by webhook id, twice by incident)."""
    box = Outbox(outbox_url)
    sends = [_row(i % 50, webhook=f"wh-{i % 50}" if i % 4 < 2 else None) for i in range(200)]
    with ThreadPoolExecutor(32) as pool:
        ids = list(pool.map(lambda r: box.add(**r), sends))
    stored = [i for i in ids if i is not None]
    assert len(stored) == 50 == len(set(stored))
    assert sorted(r["incident_id"] for r in box.rows()) == sorted(str(i) for i in range(50))
    box.close()


def test_settle_writes_each_outcome_and_skips_rows_leased_again(outbox_url: str):
    box = Outbox(outbox_url)
    for i in range(4):
        box.add(**_row(i))
    a, b, c, d = box.claim(10)
    d.claim = "someone-else"  # its lease ran out and another worker holds it now
    box.settle([delivered(a), retry(b, "503", 60), failed(c, "400: bad"), delivered(d)])
    rows = {r["id"]: r for r in box.rows()}
    assert rows[a.id]["state"] == DELIVERED and rows[a.id]["attempts"] == 1
    assert rows[b.id]["state"] == PENDING and rows[b.id]["last_error"] == "503" and rows[b.id]["next_attempt_at"] > time.time() + 50
    assert rows[c.id]["state"] == FAILED
    assert rows[d.id]["state"] == PENDING and rows[d.id]["attempts"] == 0
    box.close()


def _dispatcher(tmp_path: Path, url: str, **kw) -> Dispatcher:
    from aof_airflow.airflow_rest import AirflowAPI

    s = RelaySettings(airflow_api_url=url, airflow_username="admin", airflow_password="admin",
                      database_url=f"sqlite:///{tmp_path / 'o.db'}", backoff_initial_seconds=0.5, **kw)
    return Dispatcher(Outbox(s.database_url), AirflowAPI(url, "admin", "admin", timeout=2.0), s)


def test_delivery_is_paced_while_webhooks_arrive_then_catches_up(tmp_path: Path, standin):
    disp = _dispatcher(tmp_path, standin.url, dispatch_rate_while_receiving=20.0)
    for i in range(60):
        disp.outbox.add(**_row(i))
        disp.notify()
    disp.ensure_started()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.0:  # one second of "receiving"
        disp.notify()
        time.sleep(0.05)
    during = len(standin.runs)
    deadline = time.monotonic() + 10
    while len(standin.runs) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    disp.stop()
    assert 5 <= during <= 35, during  # ~20/s while receiving, not all 60 at once
    assert len(standin.runs) == 60 and standin.posts == 60


def test_a_down_airflow_is_not_probed_for_every_new_webhook(tmp_path: Path, standin):
    standin.fail_with = 503
    disp = _dispatcher(tmp_path, standin.url, dispatch_rate_while_receiving=0)
    disp.ensure_started()
    for i in range(40):  # 2 s of webhooks, each waking the dispatcher
        disp.outbox.add(**_row(i))
        disp.notify()
        time.sleep(0.05)
    disp.stop()
    # pauses of 0.5 s, 1 s, 2 s ... while it stays down: three probes in 2 s, not one per webhook
    assert 1 <= standin.attempts <= 4, standin.attempts


def test_a_caller_that_gave_up_does_not_break_the_writer():
    gate = threading.Event()
    written: list[int] = []

    def write(items: list[int]) -> list[int]:
        gate.wait(5)
        written.extend(items)
        return items

    gc: GroupCommit[int, int] = GroupCommit(write, name="t")
    first = gc.submit(1)
    time.sleep(0.05)
    gave_up, after = gc.submit(2), gc.submit(3)  # one batch, behind the first
    assert gave_up.cancel()  # what asyncio.wrap_future does when the request is cancelled
    gate.set()
    assert first.result(5) == 1 and after.result(5) == 3
    assert written == [1, 2, 3]  # still stored: the sender's retry must find it
    gc.close()


def test_airflow_dying_mid_batch_leaves_the_rest_untried(tmp_path: Path, standin):
    disp = _dispatcher(tmp_path, standin.url, dispatch_workers=2)
    for i in range(10):
        disp.outbox.add(**_row(i))
    standin.fail_after = 3
    assert disp.run_once(10) == 10
    rows = disp.outbox.rows()
    assert [r["state"] for r in rows].count(DELIVERED) == 3
    # probe + one chunk of 2 delivered, the next chunk of 2 met the 503, the last 5 were never sent
    assert standin.attempts == 5
    assert sum(1 for r in rows if r["last_error"] == "not attempted: Airflow unavailable") == 5
    assert all(r["attempts"] == 1 for r in rows)
