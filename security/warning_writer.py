"""Changed warnings into the store and out to the receivers, outside the grading lock.

    writer = WarningWriter(store, sinks)
    writer.room()                       # before grading: back-pressure, if far behind
    writer.put(warnings, notify, now)   # under the pipeline's grading lock: cheap, in order
    writer.write()                      # after releasing it: save, then deliver (sync mode)
    writer.start()                      # or: a writer thread does it (`yunwang watch`)

Grading used to hold its lock while every batch's changed warnings were
bulk-saved and delivered (bench/RESULTS.md, issue 12): a producer's events
waited for that I/O, and the grading thread could not go on with the next
batch meanwhile. Now grading only records what changed; the save and the
delivery happen after, one writer at a time so a warning's newer version
is never overtaken by an older one and receivers hear changes in order.

Pending warnings are kept by id, latest version only: a warning that
changed in several batches while the store was busy is saved once. What
the store refuses stays pending (unless a newer version replaced it) and
is retried on the next write: nothing is lost while Elasticsearch is down.
With a writer thread the backlog is bounded: when it holds `limit` saves
and deliveries and the store is keeping up, the grader waits for room
(counted in `waits`, the back-pressure metric); while the store is failing
it does not wait (grading never stalls on an outage) and warnings wait in
memory as before, one entry per warning.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime

from security.delivery import DeliveryError, Sink
from security.engine import Change
from security.store import Store
from security.warnings import Warning

log = logging.getLogger(__name__)
LIMIT = 5000  # pending saves and deliveries before the grader waits for the writer
RETRY_S = 1.0  # a failed save is retried this often by the writer thread


class WarningWriter:
    def __init__(self, store: Store, sinks: Sequence[Sink], limit: int = LIMIT) -> None:
        self.store = store
        self.sinks = list(sinks)
        self.limit = limit
        self.waits = 0  # back-pressure: times a grader waited for room
        self.store_errors = 0
        self.delivery_errors: Counter[str] = Counter()
        self._pending: dict[str, Warning] = {}
        self._deliveries: list[tuple[list[Change], datetime]] = []
        self._in_flight: set[str] = set()
        self._failing = False  # the last save failed: do not make graders wait
        self._retry_at = 0.0
        self._cond = threading.Condition()
        self._writing = threading.Lock()  # one writer at a time: order of versions kept
        self._thread: threading.Thread | None = None
        self._stop = False

    # -- the grader's side ---------------------------------------------------
    def room(self) -> None:
        """Wait while the writer thread is `limit` behind; before grading, not under its lock.

        So a scrape or an acknowledgement never waits behind a grader that
        waits here; the backlog may pass the limit by one batch's changes.
        """
        with self._cond:
            if self._thread is None or not self._full():
                return
            self.waits += 1
            while self._full() and not self._stop and self._thread is not None:
                self._cond.wait(0.5)

    def put(self, warnings: Iterable[Warning], notify: Sequence[Change], now: datetime) -> None:
        with self._cond:
            for warning in warnings:
                self._pending.pop(warning.id, None)  # re-inserted last: saved after older ones
                self._pending[warning.id] = warning
            if notify and self.sinks:
                self._deliveries.append((list(notify), now))
            self._cond.notify_all()

    def _full(self) -> bool:
        backlog = len(self._pending) + len(self._deliveries)
        return backlog >= self.limit and not self._failing

    def unsaved(self, warning_id: str) -> bool:
        """True while a version of this warning waits for, or is in, a save."""
        with self._cond:
            return warning_id in self._pending or warning_id in self._in_flight

    def __len__(self) -> int:
        with self._cond:
            return len(self._pending) + len(self._deliveries)

    # -- writing -----------------------------------------------------------
    def write(self) -> None:
        """Save what is pending, then deliver what waits; in the caller's thread."""
        with self._writing:
            with self._cond:
                batch, self._pending = self._pending, {}
                deliveries, self._deliveries = self._deliveries, []
                self._in_flight = set(batch)
            try:
                self._save(batch)
                for changes, now in deliveries:
                    self._deliver(changes, now)
            finally:
                with self._cond:
                    self._in_flight = set()
                    self._cond.notify_all()

    def _save(self, batch: dict[str, Warning]) -> None:
        if not batch:
            return
        try:
            self.store.put_warnings(list(batch.values()))
        except Exception as exc:
            self.store_errors += 1
            log.error("warning store: %s", exc)
            with self._cond:
                self._failing = True
                self._retry_at = time.monotonic() + RETRY_S
                # Back in front of what arrived meanwhile, unless a newer version did.
                self._pending = {**batch, **self._pending}
            return
        with self._cond:
            self._failing = False

    def _deliver(self, changes: list[Change], now: datetime) -> None:
        for sink in self.sinks:
            try:
                sink.send(changes, now)
            except DeliveryError as exc:
                self.delivery_errors[sink.name] += 1
                log.error("%s: %s", sink.name, exc)

    # -- the writer thread (`yunwang watch`) ---------------------------------
    @property
    def threaded(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """From now on a thread writes; graders only record (and wait when it is far behind)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="warning-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (wait := self._wait_s()) != 0:
                    self._cond.wait(wait)
                if self._stop:
                    return
            self.write()

    def _wait_s(self) -> float | None:
        """How long the writer thread may sleep: 0 when there is work; None until told."""
        if self._deliveries:
            return 0
        if not self._pending:
            return None
        # A failed save is retried after RETRY_S, not in a busy loop.
        return max(0.0, self._retry_at - time.monotonic()) if self._failing else 0

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until everything recorded so far was written (or failed); True if it was."""
        if self._thread is None:
            self.write()
            return not self._pending
        with self._cond:
            return self._cond.wait_for(
                lambda: self._failing or not (self._pending or self._deliveries or self._in_flight),
                timeout,
            )

    def stop(self) -> None:
        """End the thread, then write what is left in the caller's thread."""
        thread, self._thread = self._thread, None
        if thread is not None:
            with self._cond:
                self._stop = True
                self._cond.notify_all()
            thread.join()
            self._stop = False
        self.write()
