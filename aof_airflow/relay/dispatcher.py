"""Background delivery: outbox rows -> `POST /api/v2/dags/{id}/dagRuns`, with retries and backoff.

A plain thread, not an asyncio task, so it runs the same whether the relay is served by uvicorn
(started from the lifespan) or mounted in the Airflow api-server (started by the first request,
because Starlette runs no lifespan for mounted apps).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable

from aof_airflow.airflow_rest import AirflowAPI, AirflowUnavailable
from aof_airflow.relay.bounds import bound
from aof_airflow.relay.normalize import merge_details, without_details
from aof_airflow.relay.outbox import DELIVERED, Outbox, Outcome, Row, delivered, failed, held, retry
from aof_airflow.relay.settings import RelaySettings
from aof_airflow.services import pagerduty

if TYPE_CHECKING:
    from aof_airflow.relay.reports import Reports

log = logging.getLogger(__name__)
RECEIVING_WINDOW = 0.5  # seconds since the last accepted webhook during which the relay counts as receiving
PACED_PASS = 0.25  # seconds per paced delivery pass while receiving
REPORT_EVERY = 5.0  # seconds between looks for deliveries to report (reports.py)


class Dispatcher:
    def __init__(self, outbox: Outbox, client: AirflowAPI, settings: RelaySettings,
                 reports: Reports | None = None,
                 hold: Callable[[Row, dict[str, Any]], str | None] | None = None) -> None:
        """`hold`: for a row whose details were just fetched, what it became instead of a run (None: run it)."""
        self.outbox, self.client, self.settings, self.reports, self.hold = outbox, client, settings, reports, hold
        self._next_report = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.delivered = 0
        self._airflow_down_until = 0.0
        self._failed_probes = 0
        self._last_intake = 0.0
        # one pool for the dispatcher's life: a batch arrives every pass, threads need not be made each time
        self._pool = ThreadPoolExecutor(settings.dispatch_workers, thread_name_prefix="aof-relay-deliver")

    def ensure_started(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._loop, name="aof-relay-dispatcher", daemon=True)
                self._thread.start()

    def notify(self) -> None:
        """A webhook was stored: deliver soon, and let intake have the CPU first (see `_paced_batch`)."""
        self._last_intake = time.monotonic()
        self._wake.set()

    def _paced_batch(self) -> int | None:
        """Rows for the next pass while webhooks are arriving, None when they are not.

        Delivery shares one interpreter with the HTTP side; during a burst it would take the CPU the
        202s need, and PagerDuty gives up after 5 s while a DAG run can start a second later. So while
        receiving, delivery goes at `dispatch_rate_while_receiving` rows/s (about what an api-server
        creates runs at anyway) and catches up at full speed once the burst is over."""
        rate = self.settings.dispatch_rate_while_receiving
        if rate <= 0 or time.monotonic() - self._last_intake > RECEIVING_WINDOW:
            return None
        return max(1, round(rate * PACED_PASS))

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=False)

    def _loop(self) -> None:
        while not self._stop.is_set():
            paced = self._paced_batch()
            try:
                n = self.run_once(paced or 50)
            except Exception:  # the DB may be locked or briefly gone: keep the thread alive
                log.exception("relay dispatcher: pass failed")
                n = 0
            self.report_if_due()
            pause = self._airflow_down_until - time.monotonic()
            if pause > 0:  # new webhooks must not wake us to probe a down Airflow again
                self._stop.wait(pause)
            elif paced and n:
                self._stop.wait(PACED_PASS)
            elif n == 0:
                if self._wake.wait(self.settings.dispatch_poll_seconds):
                    self._stop.wait(0.02)  # let a burst of webhooks land: one claim for all of them
                self._wake.clear()

    def report_if_due(self, force: bool = False) -> None:
        """Report what did not become a run (reports.py), every few seconds: never in a webhook's path."""
        if self.reports is None or (not force and time.monotonic() < self._next_report):
            return
        self._next_report = time.monotonic() + REPORT_EVERY
        try:
            self.reports.report_due()
        except Exception:
            log.exception("relay dispatcher: reporting undelivered rows failed")

    def notify_failed(self) -> None:
        """A delivery was stored as failed: report it with the next pass."""
        self._next_report = 0.0
        self._wake.set()

    def _backoff(self, attempts: int) -> float:
        return min(self.settings.backoff_initial_seconds * (2 ** attempts), self.settings.backoff_max_seconds)

    def run_once(self, batch: int = 50) -> int:
        """Deliver what is due; returns how many rows were handled.

        The first row goes alone, as a probe, then the rest `dispatch_workers` at a time; once Airflow
        fails to answer, the rest of the batch is put back untried and the whole dispatcher pauses
        (longer each time), so a down or hanging api-server is neither hammered nor waited on row by row.
        What became of each row is written in one transaction at the end; a crash before that only means
        a re-delivery, which Airflow answers with 409 (the run id comes from the occurrence, run_ids.py).
        """
        rows = self.outbox.claim(batch)
        if not rows:
            return 0
        outcomes: list[Outcome] = []
        chunks = [rows[:1]] + [rows[i:i + self.settings.dispatch_workers]
                               for i in range(1, len(rows), self.settings.dispatch_workers)]
        for n, chunk in enumerate(chunks):
            results = list(self._pool.map(self._deliver, chunk))
            outcomes += [o for o, _ in results]
            if not all(up for _, up in results):
                delay = self._backoff(max(chunk[0].attempts, self._failed_probes))
                self._failed_probes += 1
                self._airflow_down_until = time.monotonic() + delay
                outcomes += [retry(r, "not attempted: Airflow unavailable", delay)
                             for later in chunks[n + 1:] for r in later]
                break
        else:
            self._failed_probes = 0
        self.outbox.settle(outcomes)
        self.delivered += sum(1 for o in outcomes if o.values.get("state") == DELIVERED)
        return len(rows)

    def _with_details(self, row: Row) -> dict:
        """The row's conf with the incident's custom details (namespace, resource...), which v3 webhooks lack."""
        if not self.settings.pagerduty_api_key:
            raise pagerduty.DetailsRefused("no PagerDuty API key is configured ([aof] pagerduty_api_key, "
                                           "PAGERDUTY_API_KEY or Connection pagerduty_default)")
        incident_id = row.conf["event"]["incident"]["id"]  # the row's column holds at most 100 characters
        return bound(merge_details(row.conf, pagerduty.first_alert_details(
            self.settings.pagerduty_api_url, self.settings.pagerduty_api_key, incident_id,
            self.settings.request_timeout_seconds)), self.settings.max_value_bytes, self.settings.max_conf_bytes)

    def _deliver(self, row: Row) -> tuple[Outcome, bool]:
        """What became of the row, and False when Airflow was unreachable (the caller backs off)."""
        conf, new_conf, note = row.conf, None, None
        if row.needs_details:
            try:
                conf = new_conf = self._with_details(row)
            except pagerduty.DetailsUnavailable as exc:
                waited = time.time() - row.created_at
                delay = max(self._backoff(row.attempts), exc.retry_after or 0.0)
                if waited + delay < self.settings.details_wait_seconds:
                    return retry(row, f"custom_details: {exc}", delay), True
                reason = f"{exc}; gave up after {waited:.0f}s ([aof] relay_details_wait_seconds)"
                conf = new_conf = without_details(conf, reason)
                note = f"started without custom_details: {reason}"
            except pagerduty.DetailsRefused as exc:
                conf = new_conf = without_details(conf, str(exc))
                note = f"started without custom_details: {exc}"
            if note:
                log.warning("relay: %s: %s", row.dag_run_id, note)
            try:  # one remediation per target, decided now that the target is known
                instead = self.hold(row, conf) if self.hold is not None else None
            except Exception as exc:  # undecided is not "start": a second remediation of the target could run
                log.exception("relay: %s: which run it belongs to is not settled; retrying", row.dag_run_id)
                # conf not kept: the row still needs its details, so the next attempt decides again
                return retry(row, f"one run per target: {exc}", self._backoff(row.attempts)), True
            if instead is not None:
                return held(row, "; ".join(n for n in (instead, note) if n), conf=new_conf), True
        try:
            res = self.client.trigger_run(row.dag_id, row.dag_run_id, conf)
        except AirflowUnavailable as exc:
            log.info("relay: %s/%s: Airflow unavailable (%s); retrying", row.dag_id, row.dag_run_id, exc)
            return retry(row, str(exc), self._backoff(row.attempts), conf=new_conf), False
        if res.ok:
            log.info("relay: %s/%s %s", row.dag_id, row.dag_run_id, res.detail)
            return delivered(row, "; ".join(n for n in (note, None if res.created else res.detail) if n) or None,
                             conf=new_conf), True
        if res.status == 404:  # DAG not parsed yet (or paused deploy): keep trying, slowly
            return retry(row, f"404: {res.detail}", self.settings.backoff_max_seconds, conf=new_conf), True
        log.error("relay: %s/%s rejected by Airflow: %s %s", row.dag_id, row.dag_run_id, res.status, res.detail)
        return failed(row, f"{res.status}: {res.detail}"), True
