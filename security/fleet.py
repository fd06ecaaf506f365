"""Which producers the centre expects, and which went silent (rule YW-MON-001).

    fleet = Fleet.from_estate(estate, started=now)   # sensors + one poller shard per county
    fleet.observe(events)                            # heartbeats read from the store
    events = fleet.tick(now)                         # producer-state-changed: silent / alive

A producer is silent when no heartbeat came for `misses` times its own
heartbeat interval plus a grace (the feed's look-back: a heartbeat becomes
visible to the centre that long after its producer stamped it, at worst);
a declared one never heard from counts from the centre's start. A producer
that was not declared is tracked from its first heartbeat, so a shard
started by hand is watched too.

While the centre cannot read the store (`unheard`), nobody is judged: the
producers' heartbeats wait in their spools, and silence counts again from
the first read after the store came back.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from estate import Estate
from security.events import SEVERITY_MEDIUM, Context, Event
from security.feed import FLEET_DATASET, HEARTBEAT, Producer, ProducerKind, poller_name

DEFAULT_HEARTBEAT = timedelta(seconds=60)
DEFAULT_GRACE = timedelta(seconds=15)  # security/feed_reader.py's look-back
MAX_PRODUCERS = 10_000  # undeclared names come from the store: bound what they may cost


@dataclass
class _Seen:
    producer: Producer
    last: datetime
    interval: timedelta
    silent: bool = False


class Fleet:
    def __init__(
        self,
        declared: list[Producer],
        started: datetime,
        misses: int = 3,
        grace: timedelta = DEFAULT_GRACE,
    ) -> None:
        self.misses = misses
        self.grace = grace
        self._producers = {p.name: _Seen(p, started, DEFAULT_HEARTBEAT) for p in declared}
        self._hearing_since = started  # nobody is silent for longer than the centre could hear
        self._unheard = False

    @classmethod
    def from_estate(
        cls, estate: Estate, started: datetime, misses: int = 3, grace: timedelta = DEFAULT_GRACE
    ) -> Fleet:
        declared = [Producer(s.name, "sensor", county_of(estate, s.node)) for s in estate.sensors]
        declared += [
            Producer(poller_name(n.id), "poller", n.id) for n in estate.nodes(level="county")
        ]
        return cls(declared, started, misses, grace)

    def observe(self, events: list[Event]) -> None:
        for event in events:
            if event.dataset != FLEET_DATASET or event.action != HEARTBEAT:
                continue
            labels = dict(event.labels)
            name = labels.get("producer")
            if not name:
                continue
            seen = self._producers.get(name)
            if seen is None:
                if len(self._producers) >= MAX_PRODUCERS:
                    continue
                kind: ProducerKind = (
                    "sensor" if labels.get("producer_kind") == "sensor" else "poller"
                )
                seen = _Seen(
                    Producer(name, kind, event.context.county), event.timestamp, DEFAULT_HEARTBEAT
                )
                self._producers[name] = seen
            seen.last = max(seen.last, event.timestamp)
            with contextlib.suppress(ValueError):
                seen.interval = timedelta(seconds=max(1.0, float(labels.get("interval_s", ""))))

    def unheard(self) -> None:
        """The store could not be read: no tick until it can, then silence counts afresh."""
        self._unheard = True

    def tick(self, now: datetime) -> list[Event]:
        """A state change event for each producer that went silent or came back."""
        if self._unheard:
            self._unheard = False
            self._hearing_since = now
        changes = []
        for seen in self._producers.values():
            quiet = now - seen.last
            limit = seen.interval * self.misses + self.grace
            # Only a heartbeat brings a silent producer back, never the store's return.
            heard = quiet if seen.silent else now - max(seen.last, self._hearing_since)
            silent = heard > limit
            if silent != seen.silent:
                seen.silent = silent
                changes.append(_state_event(seen, now, quiet))
        return changes

    def silent(self) -> list[str]:
        return sorted(name for name, seen in self._producers.items() if seen.silent)


def county_of(estate: Estate, node_id: str) -> str | None:
    try:
        node = estate.node(node_id)
    except KeyError:
        return None
    return node.county or (node.id if node.level == "county" else None)


def _state_event(seen: _Seen, now: datetime, quiet: timedelta) -> Event:
    p = seen.producer
    state = "silent" if seen.silent else "alive"
    message = (
        f"no heartbeat for {quiet.total_seconds():.0f} s" if seen.silent else "heartbeats again"
    )
    return Event(
        timestamp=now,
        dataset=FLEET_DATASET,
        action="producer-state-changed",
        message=message,
        kind="state",
        severity=SEVERITY_MEDIUM,
        context=Context(county=p.county, state=state),
        labels=(("producer", p.name), ("producer_kind", p.kind)),
    )
