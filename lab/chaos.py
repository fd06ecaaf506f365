"""Failures on demand: cut, blackhole, throttle, partition, and restore.

This kernel has no netem, tbf or tc filters (TESTBED.md), so:
* cut       — the parent end goes admin-down; the child end loses carrier,
              both report ifOperStatus down, FRR sees it at once;
* blackhole — `pfifo limit 0` on both ends: links stay up, nothing passes,
              only hello/BFD timers notice (the silent failure);
* throttle  — htb on both ends caps the rate (below the owed bandwidth);
* partition — every link of a node is cut.
Each change is written to the lab record, so `status` shows it and
`restore` knows what to undo.
"""

from __future__ import annotations

import re

from lab import netns
from lab.blueprint import Cable, LabPlan
from lab.errors import LabError
from lab.state import LabState

_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}


def parse_rate(text: str) -> int:
    """'50Mbit/s', '50mbit', '2000000' -> bits per second."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:bit|bps|b)?(?:/s)?\s*", text.lower())
    if not match:
        raise LabError(f"--rate {text!r}: expected a rate like 50Mbit/s, 800kbit or 2000000")
    bps = int(float(match.group(1)) * _UNITS[match.group(2)])
    if bps <= 0:
        raise LabError(f"--rate {text!r}: expected a rate above zero")
    return bps


def _plan(state: LabState) -> LabPlan:
    if not state.plan or state.phase != "up":
        raise LabError("no lab is up: run `yunwang lab up ESTATE` first")
    return LabPlan.from_dict(state.plan)


def cut(state: LabState, link: str, *, reason: str = "cut") -> Cable:
    cable = _plan(state).cable(link)
    netns.set_link(cable.parent_ns, cable.parent_if, up=False)
    state.chaos[link] = {"state": "cut", "by": reason}
    state.save()
    return cable


def blackhole(state: LabState, link: str) -> Cable:
    cable = _plan(state).cable(link)
    for namespace, ifname in _ends(cable):
        netns.drop_all(namespace, ifname)
    state.chaos[link] = {"state": "blackhole"}
    state.save()
    return cable


def throttle(state: LabState, link: str, rate_bps: int | None = None) -> tuple[Cable, int]:
    """Cap a link; by default at half what the estate says it is owed."""
    cable = _plan(state).cable(link)
    rate = rate_bps if rate_bps is not None else cable.bandwidth_bps // 2
    for namespace, ifname in _ends(cable):
        netns.rate_limit(namespace, ifname, rate)
    state.chaos[link] = {"state": "throttled", "rate_bps": rate}
    state.save()
    return cable, rate


def partition(state: LabState, node: str) -> list[Cable]:
    plan = _plan(state)
    plan.router(node)  # a clear error for an unknown node
    cables = [c for c in plan.cables if node in (c.child, c.parent)]
    for cable in cables:
        cut(state, cable.link, reason=f"partition {node}")
    return cables


def restore(state: LabState, target: str | None) -> list[Cable]:
    """Heal a link, every link of a node, or (target None) everything."""
    plan = _plan(state)
    if target is None:
        cables = list(plan.cables)
    elif any(c.link == target for c in plan.cables):
        cables = [plan.cable(target)]
    else:
        plan.router(target)
        cables = [c for c in plan.cables if target in (c.child, c.parent)]
    for cable in cables:
        for namespace, ifname in _ends(cable):
            netns.clear_qdisc(namespace, ifname)
            netns.set_link(namespace, ifname, up=True)
        state.chaos.pop(cable.link, None)
    state.save()
    return cables


def _ends(cable: Cable) -> list[tuple[str, str]]:
    return [(cable.child_ns, cable.child_if), (cable.parent_ns, cable.parent_if)]
