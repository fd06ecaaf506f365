"""The main loop of `yunwang watch`, in threads that cannot hold each other up.

    poll thread      an event loop: every interval on its own schedule one poll; between
                     cycles SNMP traps (--traps) and the re-polls of the pairs they name
    sensor thread    the capture through the packet sensor, events into the queue
    pipeline thread  the queue in batches into the rules and store
    feed thread      producers' events from the store (Elasticsearch only) and their
                     heartbeats, four times a second

The queue is bounded: when the pipeline is behind (a slow store, a flood of
packets) the sensor waits, counted as back-pressure; the poller never waits,
its few events always go in. The store's retries happen in the pipeline and
tick threads only, so a poll cycle starts on time whatever they do; a cycle
that starts late by more than a tenth of the interval is an event.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from security.events import SEVERITY_LOW, Context, Event, utcnow

log = logging.getLogger(__name__)
BATCH = 2000
QUEUE_LIMIT = 20_000
STOP_CHECK_S = 0.1  # how soon the poll thread notices the loop is stopping
# Producers' events are searched this often, each search after a refresh
# (security/feed_reader.py): with the shipper's 50 ms linger a producer's
# event is graded within about 0.4 s plus grading.
FEED_POLL_S = 0.25
LATE_FRACTION = 0.1  # a cycle later than this share of the interval is an event
# How long a thread may hold the GIL while another waits for it (Python's
# default is 5 ms). The poll thread wakes for every SNMP answer and then waits
# for the grading and sensor threads to give the GIL up: at 5 ms a cycle of
# hundreds of round trips fell seconds behind under an event storm. At 0.5 ms
# the worst lateness in bench/fleet.py --only lateness --scanners 3000 went
# from 2.7 s to 0.8 s (medians of 4 rounds, bench/RESULTS.md).
SWITCH_INTERVAL_S = 0.0005


class EventQueue:
    """Bounded for the sensor (it waits), unbounded for the poller (it never waits)."""

    def __init__(self, limit: int = QUEUE_LIMIT) -> None:
        self.limit = limit
        self.waits = 0  # back-pressure: times a producer thread waited for room
        self._items: deque[Event] = deque()
        self._cond = threading.Condition()
        self.closed = False

    def put(self, event: Event) -> None:
        with self._cond:
            if len(self._items) >= self.limit:
                self.waits += 1
                while len(self._items) >= self.limit and not self.closed:
                    self._cond.wait(0.5)
            self._items.append(event)
            self._cond.notify_all()

    def put_one(self, event: Event) -> None:
        """A sink for the poll thread's loop (traps, their re-polls): never waits."""
        self.put_now((event,))

    def put_now(self, events: Iterable[Event]) -> None:
        with self._cond:
            self._items.extend(events)
            self._cond.notify_all()

    def take(self, limit: int = BATCH, wait_s: float = 0.2) -> list[Event]:
        with self._cond:
            if not self._items:
                self._cond.wait(wait_s)
            batch = [self._items.popleft() for _ in range(min(limit, len(self._items)))]
            self._cond.notify_all()
        return batch

    def __len__(self) -> int:
        return len(self._items)

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


@dataclass
class LoopStats:
    cycles_late: int = 0
    lateness_max_s: float = 0.0
    lateness_last_s: float = 0.0
    batches: int = 0
    feed_events: int = 0

    def to_dict(self, queue: EventQueue) -> dict[str, float]:
        return {
            "cycles_late": self.cycles_late,
            "lateness_max_s": round(self.lateness_max_s, 3),
            "queue": len(queue),
            "back_pressure_waits": queue.waits,
            "batches": self.batches,
            "feed_events": self.feed_events,
        }


class Schedule:
    """Cycle starts at fixed instants (start + k * interval): lateness is measured, not drift."""

    def __init__(self, interval_s: float, start: float | None = None) -> None:
        self.interval_s = interval_s
        self.next = start if start is not None else time.monotonic()

    async def wait(self, stop: threading.Event) -> float | None:
        """Sleep until the next instant; its lateness in seconds, or None when stopped.

        Asleep on the poll thread's event loop, so traps are received and the
        re-polls they cause run between cycles.
        """
        while (left := self.next - time.monotonic()) > 0:
            if stop.is_set():
                return None
            await asyncio.sleep(min(left, STOP_CHECK_S))
        if stop.is_set():
            return None
        now = time.monotonic()
        lateness = now - self.next
        # A cycle that overran skips the instants it missed rather than bunching up.
        missed = int(lateness // self.interval_s)
        self.next += (missed + 1) * self.interval_s
        return lateness


def late_event(lateness_s: float, interval_s: float) -> Event:
    return Event(
        timestamp=utcnow(),
        dataset="yunwang.watch",
        action="poll-cycle-late",
        message=f"poll cycle started {lateness_s:.2f} s late (interval {interval_s:g} s)",
        kind="metric",
        severity=SEVERITY_LOW,
        context=Context(state="late"),
        labels=(("lateness_s", f"{lateness_s:.3f}"),),
    )


def thread(name: str, target: Callable[[], None]) -> threading.Thread:
    def run() -> None:
        try:
            target()
        except Exception:  # one thread's failure is logged, the others go on
            log.exception("watch: the %s thread failed", name)

    worker = threading.Thread(target=run, name=f"watch-{name}", daemon=True)
    worker.start()
    return worker


class LoopCollector:
    """Cycle lateness, queue depth and back-pressure for Prometheus."""

    def __init__(self, stats: LoopStats, queue: EventQueue) -> None:
        self.stats = stats
        self.queue = queue

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "yunwang_watch_cycles_late", "Poll cycles that started late", self.stats.cycles_late
        )
        yield GaugeMetricFamily(
            "yunwang_watch_cycle_lateness_seconds",
            "How late the last poll cycle started",
            self.stats.lateness_last_s,
        )
        yield GaugeMetricFamily(
            "yunwang_watch_queue_events", "Events waiting for the pipeline", len(self.queue)
        )
        yield CounterMetricFamily(
            "yunwang_watch_back_pressure_waits",
            "Times the sensor waited for room in the pipeline's queue",
            self.queue.waits,
        )
        yield CounterMetricFamily(
            "yunwang_watch_feed_events",
            "Producers' events read from the store",
            self.stats.feed_events,
        )


def wait_unless(stopped: Callable[[], bool], halt: threading.Event, seconds: float) -> None:
    """Wait `seconds`, less if `halt` is set or `stopped()` turns true.

    `stopped` reads a flag a signal handler sets: a handler that raised
    KeyboardInterrupt inside `Event.wait` could land between the condition's
    release and its `try` and break the lock (RuntimeError: release unlocked
    lock); one that set an Event could deadlock on it. So the flag is looked
    at every STOP_CHECK_S.
    """
    until = time.monotonic() + max(0.0, seconds)
    while not stopped() and (left := until - time.monotonic()) > 0:
        if halt.wait(min(left, STOP_CHECK_S)):
            return
