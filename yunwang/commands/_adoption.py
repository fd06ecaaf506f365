"""`migrate ipv6 --adoption-gate` in the lab: the packet sensor on each host
batch's segment, on its router's bridge (monitors/packets/adoption_watch.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lab import netns
from monitors.packets.adoption_watch import AdoptionWatch, SegmentTap
from playbooks.migration import HostTarget


@contextmanager
def lab_adoption(lab: Any, hosts: list[HostTarget]) -> Iterator[AdoptionWatch]:
    """The sensor on every segment of `hosts` in the lab, on its router's bridge."""
    plan = lab.plan
    by_segment: dict[str, list[HostTarget]] = {}
    for host in hosts:
        by_segment.setdefault(plan.host(host.name).segment, []).append(host)
    taps = []
    for name, members in by_segment.items():
        segment = next(s for s in plan.segments if s.name == name)
        taps.append(
            SegmentTap(
                name,
                segment.router,
                segment.bridge,
                tuple(p for h in members for p in (h.address4, h.address6)),
                tuple(h.name for h in members),
                namespace=lab.namespace(segment.router),
            )
        )
    watch = AdoptionWatch(taps, netns.entered)
    try:
        yield watch
    finally:
        watch.close()
