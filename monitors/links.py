"""Dual-link state: one word per primary/backup pair, and events when it changes.

    normal    primary carrying, backup standing by
    failover  primary down or silently dead, backup up (carrying)
    isolated  both down: the node is cut off
    flapping  one link changed state flap_transitions times within flap_window_s
    degraded  carrying link slower than owed, or above utilisation_limit of
              the owed bandwidth for sustain_polls polls in a row
    unknown   no device of the pair could be read

IF-MIB can't see a silent failure (both ends up, nothing passes), so a link
also counts as dead when its OSPF neighbour (OSPF-MIB ospfNbrState, or
OSPFv3-MIB by ifIndex) was Full before and is now gone or not Full.
Thresholds are named and overridable (`Thresholds`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from estate import Link, LinkPair
from monitors.snmp.mapping import EndObservation, Translate, observe_link
from monitors.snmp.poller import DevicePoll, InterfaceRates
from security.events import (
    SEVERITY_CRITICAL,
    SEVERITY_HIGH,
    SEVERITY_INFO,
    SEVERITY_LOW,
    SEVERITY_MEDIUM,
    Context,
    Event,
)

PairState = Literal["normal", "failover", "isolated", "flapping", "degraded", "unknown"]
PAIR_STATES: tuple[PairState, ...] = (
    "normal", "failover", "isolated", "flapping", "degraded", "unknown",
)  # fmt: skip
DATASET = "yunwang.links"


@dataclass(frozen=True)
class Thresholds:
    flap_transitions: int = 4  # link up/down changes ...
    flap_window_s: float = 300.0  # ... within this window
    utilisation_limit: float = 0.8  # of the owed bandwidth
    sustain_polls: int = 3


@dataclass
class LinkReading:
    """What one poll says about one link."""

    link: Link
    up: bool | None  # None: no end could be read
    silent_failure: bool = False
    speed_bps: int | None = None
    receive_bps: float | None = None
    transmit_bps: float | None = None
    neighbour_full: bool | None = None
    ends: list[EndObservation] = field(default_factory=list)
    sample: InterfaceRates | None = (
        None  # the poll's rates the utilisation comes from (counted once)
    )

    @property
    def utilisation(self) -> float | None:
        rates = [r for r in (self.receive_bps, self.transmit_bps) if r is not None]
        return max(rates) / self.link.bandwidth_bps if rates and self.link.bandwidth_bps else None


def _neighbour_state(
    link: Link, polls: dict[str, DevicePoll], ends: list[EndObservation]
) -> bool | None:
    """Full (True), present-but-not-Full or gone (False), or no OSPF data (None)."""
    verdicts: list[bool] = []
    for end in (link.child_end, link.parent_end):
        poll = polls.get(end.device)
        if poll is None or not poll.neighbours:
            continue
        observed = next((o for o in ends if o.device == end.device), None)
        if observed is None:
            continue
        mine = [n for n in poll.neighbours if n.if_index == observed.interface.index]
        verdicts.append(any(n.full for n in mine))
    return None if not verdicts else all(verdicts)


def read_link(link: Link, polls: dict[str, DevicePoll], translate: Translate = str) -> LinkReading:
    ends, _missing = observe_link(link, polls, translate)
    if not ends:
        return LinkReading(link, None)
    oper_up = all(o.interface.up for o in ends)
    child = next((o for o in ends if o.device == link.child_end.device), ends[0])
    rates = child.rates
    return LinkReading(
        link,
        up=oper_up,
        speed_bps=min((o.interface.speed_bps for o in ends if o.interface.speed_bps), default=None),
        receive_bps=rates.receive_bps if rates else None,
        transmit_bps=rates.transmit_bps if rates else None,
        neighbour_full=_neighbour_state(link, polls, ends),
        ends=ends,
        sample=rates,
    )


@dataclass
class _LinkMemory:
    neighbour_seen: bool = False
    last_up: bool | None = None
    changes: deque[float] = field(default_factory=deque)
    hot_polls: int = 0
    hot_sample: InterfaceRates | None = None  # the rates last counted in hot_polls


@dataclass
class PairView:
    pair: LinkPair
    state: PairState
    primary: LinkReading
    backup: LinkReading
    reason: str

    def to_json(self, readings: bool = False) -> dict[str, Any]:
        """What `collect --json` and `watch` print; `readings` adds each link's."""
        shown: dict[str, Any] = {
            "pair": self.pair.id,
            "level": self.pair.primary.level,
            "county": self.pair.primary.county,
            "state": self.state,
            "reason": self.reason,
        }
        if readings:
            shown["links"] = {
                r.link.role: {
                    "link": r.link.id,
                    "up": r.up,
                    "silent_failure": r.silent_failure,
                    "utilisation": r.utilisation,
                    "speed_bps": r.speed_bps,
                    "ospf_neighbour_full": r.neighbour_full,
                }
                for r in (self.primary, self.backup)
            }
        return shown


class PairTracker:
    """Holds per-link memory across polls and derives each pair's state."""

    def __init__(
        self,
        pairs: list[LinkPair],
        thresholds: Thresholds | None = None,
        translate: Translate = str,
    ) -> None:
        self.pairs = pairs
        self.translate = translate
        self.thresholds = thresholds or Thresholds()
        self._links: dict[str, _LinkMemory] = {}
        self.states: dict[str, PairState] = {}

    def _alive(self, reading: LinkReading, now: float) -> bool | None:
        memory = self._links.setdefault(reading.link.id, _LinkMemory())
        alive = reading.up
        if reading.neighbour_full is True:
            memory.neighbour_seen = True
        # A neighbour that was Full and is now gone, on an interface that is
        # up: the silent failure IF-MIB can't show.
        if alive and memory.neighbour_seen and reading.neighbour_full is False:
            reading.silent_failure = True
            alive = False
        if alive is not None and memory.last_up is not None and alive != memory.last_up:
            memory.changes.append(now)
        if alive is not None:
            memory.last_up = alive
        while memory.changes and now - memory.changes[0] > self.thresholds.flap_window_s:
            memory.changes.popleft()
        utilisation = reading.utilisation
        hot = alive and utilisation is not None and utilisation > self.thresholds.utilisation_limit
        # "polls in a row", not judgments: a trap's re-poll judges the pairs
        # once per device that answers, with the other devices' rates unchanged.
        if not hot:
            memory.hot_polls, memory.hot_sample = 0, None
        elif reading.sample is not memory.hot_sample:
            memory.hot_polls, memory.hot_sample = memory.hot_polls + 1, reading.sample
        return alive

    def evaluate(self, polls: dict[str, DevicePoll], now: float) -> list[PairView]:
        views: list[PairView] = []
        limits = self.thresholds
        for pair in self.pairs:
            primary = read_link(pair.primary, polls, self.translate)
            backup = read_link(pair.backup, polls, self.translate)
            p_alive, b_alive = self._alive(primary, now), self._alive(backup, now)
            # Per link: one outage and its repair (2 changes) is not a flap.
            changes = max(len(self._links[link.id].changes) for link in (pair.primary, pair.backup))
            carrying = primary if p_alive else backup
            state: PairState
            if p_alive is None and b_alive is None:
                state, reason = "unknown", "no device of the pair could be read"
            elif not p_alive and not b_alive:
                state, reason = "isolated", "primary and backup both down"
            elif changes >= limits.flap_transitions:
                state = "flapping"
                reason = f"a link changed state {changes} times within {limits.flap_window_s:.0f}s"
            elif not p_alive:
                why = "silently dead (OSPF neighbour lost)" if primary.silent_failure else "down"
                state, reason = "failover", f"primary {why}, backup carrying"
            elif carrying.speed_bps and carrying.speed_bps < carrying.link.bandwidth_bps:
                state = "degraded"
                reason = (
                    f"link speed {carrying.speed_bps} < owed {carrying.link.bandwidth_bps} bit/s"
                )
            elif self._links[carrying.link.id].hot_polls >= limits.sustain_polls:
                state = "degraded"
                reason = f"utilisation above {limits.utilisation_limit:.0%} of owed bandwidth"
            else:
                state, reason = "normal", "primary carrying, backup standing by"
            views.append(PairView(pair, state, primary, backup, reason))
        return views

    def changes(self, views: list[PairView], at: datetime) -> list[Event]:
        """Events for pairs whose state differs from the last evaluation."""
        events: list[Event] = []
        for view in views:
            previous = self.states.get(view.pair.id)
            self.states[view.pair.id] = view.state
            if previous == view.state or (previous is None and view.state == "normal"):
                continue
            events.append(pair_event(view, previous, at))
        return events


_SEVERITY: dict[PairState, int] = {
    "normal": SEVERITY_INFO,
    "degraded": SEVERITY_LOW,
    "unknown": SEVERITY_LOW,
    "failover": SEVERITY_MEDIUM,
    "flapping": SEVERITY_MEDIUM,
    "isolated": SEVERITY_HIGH,
}


def pair_event(view: PairView, previous: PairState | None, at: datetime) -> Event:
    link = view.pair.primary
    severity = _SEVERITY[view.state]
    if view.state == "isolated" and link.level == "county":
        severity = SEVERITY_CRITICAL  # a whole county and its townships cut off
    return Event(
        timestamp=at,
        dataset=DATASET,
        action="pair-state-changed",
        message=f"link pair {view.pair.id}: {previous or 'new'} -> {view.state} ({view.reason})",
        kind="state" if view.state == "normal" else "alert",
        category=("network",),
        type=("change",),
        severity=severity,
        outcome="success" if view.state == "normal" else "failure",
        context=Context(
            node=view.pair.node,
            link=(view.backup if view.state == "failover" else view.primary).link.id,
            pair=view.pair.id,
            county=link.county,
            township=link.township,
            level=link.level,
            state=view.state,
        ),
        labels=(("previous_state", previous or "none"),),
    )
