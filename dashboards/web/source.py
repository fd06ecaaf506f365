"""Where the web view reads the city from: the live pipeline of a running
`yunwang watch`, or the event store when served on its own.

Both give the same `CityState`; the page never knows which it is looking at.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from estate import Estate
from security.events import utcnow
from security.pipeline import Pipeline, acknowledge_stored
from security.posture import DATASETS, PostureInputs, ScopeKind, Score, score_all
from security.store import Store
from security.warnings import ACTIVE, Warning

TREND_POINTS = 720  # an hour at the demo's 5 s cycle


@dataclass
class LinkReadings:
    """What the poller saw last: each pair's state and each link's busiest rate."""

    states: dict[str, str] = field(default_factory=dict)  # pair id -> normal|failover|...
    used_bps: dict[str, float] = field(default_factory=dict)  # link id -> bits/s
    ipv6_ratio: dict[str, float] = field(default_factory=dict)  # segment (node id) -> share


@dataclass
class CityState:
    warnings: list[Warning]
    scores: list[Score]
    links: LinkReadings
    now: datetime

    _index: dict[tuple[str, str], Score] = field(default_factory=dict, init=False, repr=False)

    def score(self, kind: ScopeKind, name: str) -> Score:
        """A scope nothing is known about scores 100 (docs/posture.md)."""
        if not self._index:  # the page asks for every system and host: index once
            self._index.update(((s.kind, s.name), s) for s in self.scores)
        return self._index.get((kind, name)) or Score(kind, name, 100.0, {})


class CitySource(Protocol):
    estate: Estate

    @property
    def version(self) -> int:
        """Changes whenever the state may have changed (the page is pushed an update)."""

    def state(self) -> CityState: ...

    def trend(self) -> list[tuple[float, float]]: ...

    def acknowledge(self, warning_id: str, who: str, comment: str) -> Warning: ...

    def resolve(self, warning_id: str, who: str, comment: str) -> Warning: ...

    def find(self, warning_id: str) -> Warning | None: ...


class _Trend:
    def __init__(self) -> None:
        self.points: deque[tuple[float, float]] = deque(maxlen=TREND_POINTS)
        self.version = 0
        self._lock = threading.Lock()

    def bump(self, city_score: float) -> None:
        with self._lock:
            self.points.append((time.time(), round(city_score, 1)))
            self.version += 1

    def copy(self) -> list[tuple[float, float]]:
        with self._lock:
            return list(self.points)


class PipelineSource:
    """The live city inside `yunwang watch`: call `changed()` after each cycle."""

    def __init__(
        self, estate: Estate, pipeline: Pipeline, readings: Callable[[], LinkReadings]
    ) -> None:
        self.estate = estate
        self.pipeline = pipeline
        self._readings = readings
        self._trend = _Trend()

    @property
    def version(self) -> int:
        return self._trend.version

    def changed(self) -> None:
        self._trend.bump(self.state().score("city", "city").score)

    def state(self) -> CityState:
        now = self.pipeline.clock()
        return CityState(
            self.pipeline.active_warnings(), self.pipeline.scores(now), self._readings(), now
        )

    def trend(self) -> list[tuple[float, float]]:
        return self._trend.copy()

    def acknowledge(self, warning_id: str, who: str, comment: str) -> Warning:
        changed = self.pipeline.acknowledge(warning_id, who, comment)
        self._trend.version += 1
        return changed

    def resolve(self, warning_id: str, who: str, comment: str) -> Warning:
        changed = self.pipeline.resolve(warning_id, who, comment)
        self._trend.version += 1
        return changed

    def find(self, warning_id: str) -> Warning | None:
        return next((w for w in self.pipeline.active_warnings() if w.id == warning_id), None)


class StoreSource:
    """`yunwang serve` on its own: read the store, at most once per `refresh_s`."""

    def __init__(
        self, estate: Estate, store: Store, history: timedelta = timedelta(days=30),
        refresh_s: float = 2.0,
    ) -> None:  # fmt: skip
        self.estate = estate
        self.store = store
        self.history = history
        self.refresh_s = refresh_s
        self._trend = _Trend()
        self._cached: CityState | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    @property
    def version(self) -> int:
        self.state()
        return self._trend.version

    def state(self) -> CityState:
        with self._lock:
            if self._cached is not None and time.monotonic() - self._at < self.refresh_s:
                return self._cached
            now = utcnow()
            warnings = self.store.find_warnings(status=ACTIVE, limit=100_000)
            inputs = PostureInputs().observe_all(
                self.store.iter_events(DATASETS, now - self.history)
            )
            states = {pair: s for pair, (s, _, _) in inputs.pairs.items()}
            scores = score_all(inputs, warnings, now)
            fresh = CityState(warnings, scores, LinkReadings(states=states), now)
            if self._cached is None or _fingerprint(fresh) != _fingerprint(self._cached):
                self._trend.bump(fresh.score("city", "city").score)
            self._cached, self._at = fresh, time.monotonic()
            return fresh

    def trend(self) -> list[tuple[float, float]]:
        return self._trend.copy()

    def acknowledge(self, warning_id: str, who: str, comment: str) -> Warning:
        return self._act(warning_id, who, comment, resolve=False)

    def resolve(self, warning_id: str, who: str, comment: str) -> Warning:
        return self._act(warning_id, who, comment, resolve=True)

    def find(self, warning_id: str) -> Warning | None:
        return self.store.get_warning(warning_id)

    def _act(self, warning_id: str, who: str, comment: str, resolve: bool) -> Warning:
        changed = acknowledge_stored(self.store, warning_id, who, comment, resolve=resolve)
        with self._lock:
            self._cached = None
        return changed


def _fingerprint(state: CityState) -> tuple[object, ...]:
    return (
        tuple(sorted((w.id, w.status, w.level, w.count) for w in state.warnings)),
        tuple(sorted(state.links.states.items())),
    )
