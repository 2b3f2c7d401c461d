"""Background delivery: outbox rows -> `POST /api/v2/dags/{id}/dagRuns`, with retries and backoff.

A plain thread, not an asyncio task, so it runs the same whether the relay is served by uvicorn
(started from the lifespan) or mounted in the Airflow api-server (started by the first request,
because Starlette runs no lifespan for mounted apps).
"""

from __future__ import annotations

import logging
import threading

from aof_airflow.relay import pagerduty
from aof_airflow.relay.airflow_client import AirflowClient, AirflowUnavailable
from aof_airflow.relay.normalize import merge_details
from aof_airflow.relay.outbox import Outbox, Row
from aof_airflow.relay.settings import RelaySettings

log = logging.getLogger(__name__)
DETAIL_ATTEMPTS = 5  # after these, deliver without custom_details rather than not at all


class Dispatcher:
    def __init__(self, outbox: Outbox, client: AirflowClient, settings: RelaySettings) -> None:
        self.outbox, self.client, self.settings = outbox, client, settings
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.delivered = 0

    def ensure_started(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._loop, name="aof-relay-dispatcher", daemon=True)
                self._thread.start()

    def notify(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                n = self.run_once()
            except Exception:  # the DB may be locked or briefly gone: keep the thread alive
                log.exception("relay dispatcher: pass failed")
                n = 0
            if n == 0:
                if self._wake.wait(self.settings.dispatch_poll_seconds):
                    self._stop.wait(0.02)  # let a burst of webhooks land: one claim for all of them
                self._wake.clear()

    def _backoff(self, attempts: int) -> float:
        return min(self.settings.backoff_initial_seconds * (2 ** attempts), self.settings.backoff_max_seconds)

    def run_once(self, batch: int = 50) -> int:
        """Deliver what is due; returns how many rows were handled. Stops the batch once Airflow is down."""
        rows = self.outbox.claim(batch)
        for i, row in enumerate(rows):
            if not self._deliver(row):
                delay = self._backoff(row.attempts)
                for rest in rows[i + 1:]:  # Airflow is down: do not hammer it with the rest of the batch
                    self.outbox.retry(rest, "not attempted: Airflow unavailable", delay)
                break
        return len(rows)

    def _deliver(self, row: Row) -> bool:
        """False only when Airflow is unreachable (the caller backs off)."""
        conf, new_conf = row.conf, None
        if row.needs_details and self.settings.pagerduty_api_key:
            try:
                details = pagerduty.first_alert_details(self.settings.pagerduty_api_url, self.settings.pagerduty_api_key,
                                                        row.incident_id, self.settings.request_timeout_seconds)
                conf = new_conf = merge_details(conf, details)
            except pagerduty.DetailsUnavailable as exc:
                if row.attempts + 1 < DETAIL_ATTEMPTS:
                    self.outbox.retry(row, f"custom_details: {exc}", self._backoff(row.attempts))
                    return True
                log.warning("relay: %s: custom_details unavailable (%s); delivering without", row.dag_run_id, exc)
        try:
            res = self.client.trigger_run(row.dag_id, row.dag_run_id, conf)
        except AirflowUnavailable as exc:
            log.info("relay: %s/%s: Airflow unavailable (%s); retrying", row.dag_id, row.dag_run_id, exc)
            self.outbox.retry(row, str(exc), self._backoff(row.attempts), conf=new_conf)
            return False
        if res.ok:
            self.outbox.delivered(row, None if res.created else res.detail, conf=new_conf)
            self.delivered += 1
            log.info("relay: %s/%s %s", row.dag_id, row.dag_run_id, res.detail)
        elif res.status == 404:  # DAG not parsed yet (or paused deploy): keep trying, slowly
            self.outbox.retry(row, f"404: {res.detail}", self.settings.backoff_max_seconds, conf=new_conf)
        else:
            log.error("relay: %s/%s rejected by Airflow: %s %s", row.dag_id, row.dag_run_id, res.status, res.detail)
            self.outbox.failed(row, f"{res.status}: {res.detail}")
        return True
