"""Producers ship, the centre grades: a sensor or poller shard's events into the store.

    shipper = Shipper(open_producer_store(url), Producer("hl-tap", "sensor", "hl"), enrich)
    shipper.start()             # a thread: each event in a batch within 50 ms, heartbeats
    sensor.sinks.append(shipper.ship)
    ...
    shipper.close()             # the last batch, then the store (its spool keeps the rest)

Events are queued in memory and written in batches from the shipper's own
thread, so an unreachable store (its retries, its spool) never holds up the
capture or the poll. Every event carries `labels.shipped_by` (the centre reads
only labelled events back, so its own are never graded twice) and, where the
producer set none, `observer.name` and the producer's county. A heartbeat
each `heartbeat_s` tells the centre the producer is alive (rule YW-MON-001
when it stops).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from security.events import Context, Endpoint, Event, utcnow
from security.store import Store

log = logging.getLogger(__name__)
ProducerKind = Literal["sensor", "poller"]
FLEET_DATASET = "yunwang.fleet"
HEARTBEAT = "producer-heartbeat"
LINGER_S = 0.05  # batching against latency: 50 ms of a busy sensor is one bulk
MAX_QUEUED = 200_000  # beyond this the oldest wait in the caller (back-pressure), never dropped


@dataclass(frozen=True)
class Producer:
    """Who ships: a packet sensor (estate monitoring.sensors) or a poller shard (one county)."""

    name: str
    kind: ProducerKind
    county: str | None = None

    def tag(self, event: Event) -> Event:
        labels = dict(event.labels)
        labels["shipped_by"] = self.name
        observer = event.observer or Endpoint(name=self.name)
        # A sensor sees its county's wire: what it saw happened there, even
        # where the addresses alone place it nowhere in the estate.
        context = event.context
        if context.county is None and self.county is not None:
            context = replace(context, county=self.county)
        return replace(
            event, observer=observer, context=context, labels=tuple(sorted(labels.items()))
        )

    def heartbeat(self, interval_s: float) -> Event:
        return self.tag(
            Event(
                timestamp=utcnow(),
                dataset=FLEET_DATASET,
                action=HEARTBEAT,
                message=f"{self.kind} {self.name} alive",
                kind="state",
                context=Context(county=self.county),
                labels=(
                    ("interval_s", f"{interval_s:g}"),
                    ("producer", self.name),
                    ("producer_kind", self.kind),
                ),
            )
        )


def poller_name(county: str | None) -> str:
    """A poller shard's name: one per county, `poller` for a whole-estate poller."""
    return f"poller-{county}" if county else "poller"


class Shipper:
    def __init__(
        self,
        store: Store,
        producer: Producer,
        enrich: Callable[[Event], Event] | None = None,
        linger_s: float = LINGER_S,
        heartbeat_s: float = 60.0,
    ) -> None:
        self.store = store
        self.producer = producer
        self.enrich = enrich
        self.linger_s = linger_s
        self.heartbeat_s = heartbeat_s
        self.shipped = 0
        self.batches = 0
        self.waits = 0  # times a caller waited for the queue to drain (back-pressure)
        self._queue: list[Event] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shipper", daemon=True)

    def start(self) -> Shipper:
        # The first heartbeat is queued now, not by the thread: a producer
        # stopped a moment after it started has still announced itself.
        with self._cond:
            self._queue.append(self.producer.heartbeat(self.heartbeat_s))
        self._thread.start()
        return self

    def ship(self, event: Event) -> None:
        """A sink for sensors and collections: any thread, returns at once unless far behind."""
        self.ship_all([event])

    def ship_all(self, events: Sequence[Event]) -> None:
        tagged = [self.producer.tag(self.enrich(e) if self.enrich else e) for e in events]
        with self._cond:
            while len(self._queue) >= MAX_QUEUED and not self._stop.is_set():
                self.waits += 1
                self._cond.wait(1.0)
            self._queue.extend(tagged)
            self._cond.notify_all()  # the shipper's thread waits for the first event

    def _run(self) -> None:
        next_beat = time.monotonic() + self.heartbeat_s  # the first one is queued by start()
        while not self._stop.is_set():
            with self._cond:
                # Wake for the first event, not on a clock: an event waits
                # only `linger_s` for company before it leaves.
                self._cond.wait_for(
                    lambda: self._queue or self._stop.is_set(),
                    timeout=max(0.0, next_beat - time.monotonic()),
                )
            if self._stop.wait(self.linger_s):
                return
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + self.heartbeat_s
                with self._cond:
                    self._queue.append(self.producer.heartbeat(self.heartbeat_s))
            self._send()

    def _send(self) -> None:
        with self._cond:
            batch, self._queue = self._queue, []
            self._cond.notify_all()
        try:
            if batch:
                self.store.put_events(batch)
                self.batches += 1
                self.shipped += len(batch)
            self.store.flush()  # the spool first, then the batch; spooled when unreachable
        except Exception as exc:  # the store's trouble is its spool's; the producer goes on
            log.error("shipping to the store: %s", exc)

    def close(self) -> None:
        self._stop.set()
        with self._cond:  # the thread may be waiting for an event or its next heartbeat
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join()
        self._send()
        self.store.close()
