"""Replication lag between drills: RPO exposure made visible all the time.

`LagWatch` reads each watched standby's lag on a schedule (dr/checks.py
`read_lag`) and keeps the latest reading; as a Prometheus collector it
yields, at scrape time,

    yunwang_dr_replication_lag_seconds{tenant, system, dr_class, standby}   (+Inf: unknown)
    yunwang_dr_rpo_seconds{...}                                             the class's RPO
    yunwang_dr_rpo_exceeded{...}                                            1 when lag > RPO
    yunwang_dr_lag_read_timestamp_seconds{...}                              when it was read

and every reading becomes a `yunwang.dr` event (`replica-checked`, or
`rpo-exceeded` which raises YW-DR-001) for the event sink. `yunwang
collect --lab` runs one beside the poller for every system whose estate
declares `dr: {standby: HOST}` on a host of the lab (`--dr-standby
SYSTEM=HOST` overrides), and ships the readings to the store `dr status`
reads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dr.checks import lag_event, read_lag
from dr.pair import DrError, Hosts
from estate.model import DrClass, Estate, System
from security.events import Event, utcnow

MAX_WATCHED = 1000  # one DR standby per replicated system; a city has ~150 systems
LABELS = ("tenant", "system", "dr_class", "standby")


@dataclass(frozen=True)
class Watched:
    system: System
    dr: DrClass
    standby: str

    def labels(self) -> list[str]:
        return [self.system.tenant, self.system.code, self.dr.name, self.standby]


@dataclass(frozen=True)
class Reading:
    lag_s: float
    at: datetime


def watched_from(estate: Estate, items: Sequence[str]) -> list[Watched]:
    """`tenant/system=host` items (the option's words) -> what to watch."""
    if len(items) > MAX_WATCHED:
        raise DrError(f"--dr-standby: at most {MAX_WATCHED} standbys, found {len(items)}")
    found = []
    for item in items:
        name, eq, host = item.partition("=")
        if not eq or not host:
            raise DrError(f"--dr-standby {item!r}: expected TENANT/SYSTEM=HOST")
        system = estate.system_named(name)  # codes or names: 市公安局/警务综合平台
        if system is None or system.dr_class is None:
            replicated = (s.ref for s in estate.replicated_systems())
            known = ", ".join(sorted(replicated)) or "none"
            raise DrError(f"--dr-standby {item!r}: no replicated system {name!r} ({known})")
        found.append(Watched(system, estate.dr.classes[str(system.dr_class)], host))
    return found


def declared_watched(estate: Estate, present: Collection[str]) -> list[Watched]:
    """Every replicated system whose estate-declared `dr.standby` is among
    `present` (the hosts reachable here, e.g. the lab's slice)."""
    return [
        Watched(s, estate.dr.classes[str(s.dr_class)], s.dr.standby)
        for s in estate.replicated_systems()
        if s.dr.standby is not None and s.dr.standby in present
    ][:MAX_WATCHED]


class LagWatch(Collector):
    def __init__(
        self,
        hosts: Hosts,
        watched: Sequence[Watched],
        sink: Callable[[Event], None],
        interval_s: float = 15.0,
    ) -> None:
        self.hosts = hosts
        self.watched = list(watched)
        self.sink = sink
        self.interval_s = interval_s
        self._latest: dict[Watched, Reading] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> list[Event]:
        """Read every standby once; each reading replaces the last and is sunk."""
        events = []
        for w in self.watched:
            lag, why = read_lag(self.hosts, w.standby)
            now = utcnow()
            with self._lock:
                self._latest[w] = Reading(lag, now)
            event = lag_event(w.system, w.dr, w.standby, lag, why, now)
            self.sink(event)
            events.append(event)
        return events

    def start(self) -> None:
        """Check on the schedule in a thread of its own: a standby that hangs
        until ssh gives up delays only the next reading, never the poller."""

        def loop() -> None:
            while not self._stop.is_set():
                started = time.monotonic()
                self.check()
                self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))

        self._thread = threading.Thread(target=loop, name="dr-lag", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=90)

    def collect(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "yunwang_dr_replication_lag_seconds",
            "Replication lag read from the DR standby (+Inf when it cannot be read)",
            labels=LABELS,
        )
        rpo = GaugeMetricFamily(
            "yunwang_dr_rpo_seconds", "The DR class's recovery point objective", labels=LABELS
        )
        exceeded = GaugeMetricFamily(
            "yunwang_dr_rpo_exceeded", "1 when the replication lag exceeds the RPO", labels=LABELS
        )
        read_at = GaugeMetricFamily(
            "yunwang_dr_lag_read_timestamp_seconds",
            "When the lag was last read (Unix time)",
            labels=LABELS,
        )
        with self._lock:
            latest = dict(self._latest)
        for w, reading in latest.items():
            labels = w.labels()
            lag.add_metric(labels, reading.lag_s)
            rpo.add_metric(labels, w.dr.rpo_s)
            exceeded.add_metric(labels, 1.0 if reading.lag_s > w.dr.rpo_s else 0.0)
            read_at.add_metric(labels, reading.at.timestamp())
        yield from (lag, rpo, exceeded, read_at)
