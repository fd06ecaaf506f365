"""The security pipeline `yunwang watch` drives: events in; warnings, scores, alerts out.

    pipeline = Pipeline(open_store(), sinks=[Alertmanager(url)])
    REGISTRY.register(pipeline.collector())
    pipeline.submit(events)          # from collectors and sensors, any thread
    pipeline.tick()                  # once a second: flush, escalate, resend, sync acks

Warnings are stored as soon as they change (so an operator's CLI sees
them), but outside the grading lock (security/warning_writer.py): by the
caller after grading, or by a writer thread once `writer.start()` (watch);
events are batched. A store or receiver that fails does not stop the
pipeline: what could not be written is retried on the next tick.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from security.audit import record
from security.delivery import Sink
from security.engine import Change, WarningBook
from security.events import Event, utcnow
from security.posture import DATASETS, PostureInputs, Score, score_all
from security.rulebook import Rule, load_rules
from security.store import Store, StoreError
from security.warning_writer import WarningWriter
from security.warnings import ACTIVE, Warning, WarningError

if TYPE_CHECKING:
    from security.metrics import PostureCollector

log = logging.getLogger(__name__)


class Pipeline:
    def __init__(
        self,
        store: Store,
        rules: Sequence[Rule] | None = None,
        sinks: Sequence[Sink] = (),
        clock: Callable[[], datetime] = utcnow,
        resend_interval: timedelta = timedelta(minutes=1),
        history: timedelta = timedelta(days=30),
        enrich: Callable[[Event], Event] | None = None,
    ) -> None:
        self.store = store
        # e.g. EstateContext(estate).enrich: adds county/tenant/zone before rules run
        self.enrich = enrich
        self.sinks = list(sinks)
        # Saves and deliveries, after the grading lock is released (or in its own thread).
        self.writer = WarningWriter(store, self.sinks)
        self.clock = clock
        self.resend_interval = resend_interval
        self.book = WarningBook(rules if rules is not None else load_rules())
        self.inputs = PostureInputs()
        self._history = history
        self._resumed = False
        self.events_total: Counter[str] = Counter()
        self.changes_total: Counter[str] = Counter()
        self._event_store_errors = 0
        self._last_resend = clock()
        self._last_retention: datetime | None = None
        self._lock = threading.RLock()
        self._resume()
        self._written()

    # -- input -----------------------------------------------------------
    def submit(self, events: Iterable[Event], stored: bool = False) -> list[Change]:
        """Grade events; `stored=True`: a producer already put them in the store (the feed)."""
        batch = [self.enrich(e) for e in events] if self.enrich else list(events)
        if not batch:  # the feed and the tick often have nothing: no lock, no write
            return []
        # Into the store before grading and outside the grading lock (stores
        # lock for themselves): a bulk under way never holds up the feed's grading.
        try:
            if not stored:
                self.store.put_events(batch)
        except Exception as exc:
            self._event_store_errors += 1
            log.error("event store: %s", exc)
        self.writer.room()  # far behind on saving warnings: wait here, not under the lock
        with self._lock:
            changes: list[Change] = []
            for event in batch:
                self.events_total[event.dataset] += 1
                self.inputs.observe(event)
                changes += self.book.observe(event)
            self._apply(changes)
        self._written()
        return changes

    def settle(self) -> None:
        """Wait until the warnings changed so far are saved (or failed, kept for retry).

        The feed commits its checkpoint after this: a crash after the commit
        does not lose the warnings those events changed.
        """
        self.writer.settle()

    def tick(self, now: datetime | None = None) -> list[Change]:
        now = now or self.clock()
        # The store's bulk I/O outside the grading lock (the store has its own):
        # a slow flush or retention sweep never holds up grading the next events.
        try:
            self.store.flush()
        except Exception as exc:
            self._event_store_errors += 1
            log.error("event store flush: %s", exc)
        # Acks made elsewhere are read outside the lock too (a refresh and a search).
        elsewhere = self._changed_elsewhere()
        # The store's own trouble (refused, disk full) is graded like any event.
        self.submit(self.store.take_events())
        with self._lock:
            if not self._resumed:
                self._resume()
            self._adopt_changed(elsewhere)
            changes = self.book.tick(now)
            self._apply(changes)
            if now - self._last_resend >= self.resend_interval:
                self._last_resend = now
                self.writer.put((), [Change("updated", w, True) for w in self.book.active()], now)
            sweep = self._last_retention is None or now - self._last_retention >= timedelta(days=1)
            if sweep:
                self._last_retention = now
        self._written()  # and retries warnings the store could not take earlier
        if sweep:
            try:
                self.store.apply_retention(now)
            except Exception as exc:
                log.error("retention: %s", exc)
        return changes

    # -- people ----------------------------------------------------------
    def acknowledge(self, warning_id: str, who: str, comment: str) -> Warning:
        with self._lock:
            change = self.book.acknowledge(warning_id, who, self.clock(), comment)
            self._apply([change])
        self._written()
        return change.warning

    def resolve(self, warning_id: str, who: str, reason: str) -> Warning:
        with self._lock:
            change = self.book.resolve(warning_id, who, self.clock(), reason)
            self._apply([change])
        self._written()
        return change.warning

    # -- output ----------------------------------------------------------
    def active_warnings(self) -> list[Warning]:
        with self._lock:
            return self.book.active()

    def scores(self, now: datetime | None = None) -> list[Score]:
        with self._lock:
            return score_all(self.inputs, self.book.active(), now or self.clock())

    def collector(self) -> PostureCollector:
        from security.metrics import PostureCollector

        return PostureCollector(self)

    @property
    def store_errors(self) -> int:
        return self._event_store_errors + self.writer.store_errors

    @property
    def delivery_errors(self) -> Counter[str]:
        return self.writer.delivery_errors

    def close(self) -> None:
        self.writer.stop()
        with self._lock:
            self.store.flush()
            self.writer.write()
            self.store.close()

    # -- internals -------------------------------------------------------
    def _resume(self) -> None:
        """Take up the stored active warnings and recent state (retried each tick until it works).

        If the store was unreachable at start and a warning was opened again
        meanwhile, the live one is kept and the stored one closed as superseded.
        """
        try:
            stored = self.store.find_warnings(status=ACTIVE, limit=10000)
            history = list(self.store.iter_events(DATASETS, self.clock() - self._history))
        except StoreError as exc:
            log.error("resuming from the store: %s (retrying)", exc)
            return
        superseded = []
        for warning in stored:
            live = self.book.find(warning.rule_id, warning.key)
            if live is None:
                self.book.adopt(warning)
            elif live.id != warning.id:
                superseded.append(warning.resolve("auto", self.clock(), f"superseded by {live.id}"))
        self.inputs.merge_older(PostureInputs().observe_all(history))
        self._resumed = True
        self.writer.put(superseded, (), self.clock())

    def _apply(self, changes: list[Change]) -> None:
        if not changes:
            return
        for change in changes:
            self.changes_total[change.kind] += 1
            if change.kind in ("acknowledged", "resolved") and change.warning.resolved_by != "auto":
                self._audit(change)
        # Recorded under the lock (versions in order); saved and delivered after it.
        notify = [c for c in changes if c.notify]
        self.writer.put([c.warning for c in changes], notify, self.clock())

    def _written(self) -> None:
        """Without a writer thread, the caller saves and delivers, outside the grading lock."""
        if not self.writer.threaded:
            self.writer.write()

    def _changed_elsewhere(self) -> list[tuple[Warning, Warning]]:
        """Active warnings acknowledged or resolved by `yunwang warnings` elsewhere: (ours, theirs)."""
        with self._lock:
            active = self.book.active()
        if not active:
            return []
        try:
            changed_elsewhere = self.store.find_warnings(
                status=("acknowledged", "resolved"), ids=[w.id for w in active], limit=len(active)
            )
        except Exception as exc:
            log.error("warning sync: %s", exc)
            return []
        stored = {w.id: w for w in changed_elsewhere}
        return [(w, stored[w.id]) for w in active if w.id in stored]

    def _adopt_changed(self, elsewhere: list[tuple[Warning, Warning]]) -> None:
        """Take up those changes, unless our status changed since they were read (ours is newer)."""
        for ours, theirs in elsewhere:
            current = self.book.get(ours.id)
            if (
                current is not None
                and current.status == ours.status != theirs.status
                and not self.writer.unsaved(ours.id)
            ):
                self.book.adopt(theirs)

    def _audit(self, change: Change) -> None:
        w = change.warning
        who = w.resolved_by if change.kind == "resolved" else w.ack_by
        comment = w.resolution if change.kind == "resolved" else w.ack_comment
        record(
            action=f"warning.{'acknowledge' if change.kind == 'acknowledged' else 'resolve'}",
            target=w.id,
            outcome="success",
            detail={"rule": w.rule_id, "level": w.level, "comment": comment or ""},
            actor=who,
        )


def acknowledge_stored(
    store: Store, warning_id: str, who: str, comment: str, resolve: bool = False
) -> Warning:
    """Acknowledge (or resolve) a warning straight in the store, as the CLI does."""
    warning = store.get_warning(warning_id)
    if warning is None:
        raise WarningError(f"no warning with id {warning_id}")
    now = utcnow()
    try:
        changed = (
            warning.resolve(who, now, comment)
            if resolve
            else warning.acknowledge(who, now, comment)
        )
    except WarningError:
        record(
            action="warning.resolve" if resolve else "warning.acknowledge",
            target=warning_id,
            outcome="failure",
            detail={"status": warning.status},
            actor=who,
        )
        raise
    store.put_warnings([changed])
    record(
        action="warning.resolve" if resolve else "warning.acknowledge",
        target=warning_id,
        outcome="success",
        detail={"rule": warning.rule_id, "level": warning.level, "comment": comment},
        actor=who,
    )
    return changed
