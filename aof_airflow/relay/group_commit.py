"""Group commit: callers that arrive together share one transaction, and so one fsync.

The relay must have a webhook on disk before it answers 202. Committing each one alone costs an fsync
per webhook and, on SQLite, makes writers queue in its busy handler (which sleeps in steps of up to
100 ms): at 100 webhooks/s that, not the work, made the 202 take seconds. Here one thread writes: a
caller hands over its item and waits; everything handed over while a transaction was being written
goes into the next one. Alone, a caller waits for one commit, as before; in a burst, for at most two.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from typing import Callable, Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """`submit(item)` resolves to `write(batch)`'s result for that item once the batch is committed.

    `write` gets the items in arrival order and returns one result per item, in the same order. If it
    raises, each item of the batch is written alone, so one bad item fails only its own caller.
    """

    def __init__(self, write: Callable[[list[T]], list[R]], *, name: str, max_batch: int = 256) -> None:
        self._write, self._name, self._max = write, name, max_batch
        self._queue: queue.SimpleQueue[tuple[T, Future] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def submit(self, item: T) -> Future:
        """A Future of `item`'s result: `.result()` to block, `asyncio.wrap_future` to await."""
        fut: Future = Future()
        self._ensure_thread()
        self._queue.put((item, fut))
        return fut

    def close(self) -> None:
        """Write what was handed over, then end the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(30)
            self._thread = None

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._start:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                    self._thread.start()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = [first], False
            while len(batch) < self._max:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            try:
                self._commit(batch)
            except BaseException as exc:  # never leave a caller waiting on a dead thread
                for _, fut in batch:
                    _settle(fut, exception=exc)
                log.exception("%s: writer failed", self._name)
            if stop:
                return

    def _commit(self, batch: list[tuple[T, Future]]) -> None:
        # A caller that stopped waiting (its request was cancelled) still gets its item written: the
        # sender will retry, and the retry must find it (dedup), not a second copy in flight.
        try:
            results = self._write([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exception=exc)
                return
            log.warning("%s: a batch of %d failed (%s); writing each alone", self._name, len(batch), exc)
            for one in batch:
                self._commit([one])
            return
        for (_, fut), result in zip(batch, results, strict=True):
            _settle(fut, result=result)


def _settle(fut: Future, *, result: object = None, exception: BaseException | None = None) -> None:
    if fut.done() or (not fut.running() and not fut.set_running_or_notify_cancel()):
        return  # settled already, or cancelled by its caller
    if exception is not None:
        fut.set_exception(exception)
    else:
        fut.set_result(result)
