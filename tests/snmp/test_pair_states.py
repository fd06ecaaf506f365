"""Pair-state rules on poll results shaped as the poller returns them
(degraded by speed and by sustained utilisation; unknown without data).
The lab tests cover failover, isolated and flapping on real routers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from estate import Estate, load
from monitors.links import PairTracker, Thresholds
from monitors.snmp.poller import DevicePoll, InterfaceRates
from monitors.snmp.tables import Interface


def interface(index: int, name: str, speed: int, up: bool = True) -> Interface:
    return Interface(index, name, name, "", 6, True, "up" if up else "down", speed, 0, 0, 64,
                     0, 0, 0, 0)  # fmt: skip


def polls_for(
    estate: Estate, pair_id: str, speed: int, receive_bps: float
) -> dict[str, DevicePoll]:
    pair = next(p for p in estate.link_pairs() if p.id == pair_id)
    polls: dict[str, DevicePoll] = {}
    for link in (pair.primary, pair.backup):
        for end in (link.child_end, link.parent_end):
            poll = polls.setdefault(
                end.device,
                DevicePoll(end.device, "198.18.0.1", "reachable", datetime.now(UTC), 0.1),
            )
            index = len(poll.interfaces) + 1
            poll.interfaces.append(interface(index, end.interface, speed))
            poll.rates[index] = InterfaceRates(receive_bps, 0.0)
    return polls


def test_speed_below_owed_is_degraded(small_path: Path) -> None:
    estate = load(small_path)
    tracker = PairTracker(estate.link_pairs())
    [view] = [v for v in tracker.evaluate(polls_for(estate, "hl", 100_000_000, 0.0), 0.0)
              if v.pair.id == "hl"]  # fmt: skip
    assert view.state == "degraded" and "owed" in view.reason


def test_sustained_utilisation_is_degraded_only_after_n_polls(small_path: Path) -> None:
    estate = load(small_path)
    tracker = PairTracker(estate.link_pairs(), Thresholds(utilisation_limit=0.8, sustain_polls=3))

    def busy() -> dict[str, DevicePoll]:  # each poll its own reading: 90 % of 100 Mbit/s
        return polls_for(estate, "hl-zyl", 1_000_000_000, 90_000_000.0)

    first = busy()
    # A trap's re-poll judges the same poll again: that is not another poll.
    again = [next(v for v in tracker.evaluate(first, float(t)) if v.pair.id == "hl-zyl").state
             for t in range(3)]  # fmt: skip
    assert again == ["normal"] * 3
    states = [
        next(v for v in tracker.evaluate(busy(), float(t)) if v.pair.id == "hl-zyl").state
        for t in range(2)
    ]
    assert states == ["normal", "degraded"]
    events = tracker.changes(tracker.evaluate(busy(), 3.0), datetime.now(UTC))
    assert any(e.context.pair == "hl-zyl" and e.context.state == "degraded" for e in events)


def test_no_data_is_unknown_not_normal(small_path: Path) -> None:
    estate = load(small_path)
    views = PairTracker(estate.link_pairs()).evaluate({}, 0.0)
    assert {v.state for v in views} == {"unknown"}
