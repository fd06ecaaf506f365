"""The IPv6 migration's captures in the lab, on the routers' bridges:

- `--adoption-gate`: the packet sensor on each host batch's segment
  (monitors/packets/adoption_watch.py);
- always: the Router Advertisements each router batch's routers send on
  their segments, solicited by a host on each (monitors/packets/ra_watch.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lab import netns
from monitors.packets.adoption_watch import AdoptionWatch, SegmentTap
from monitors.packets.ra_watch import RaTap, RaWatch
from playbooks.migration import HostTarget
from playbooks.migration_routers import MigrationRouter


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


@contextmanager
def lab_ra(lab: Any, routers: list[MigrationRouter]) -> Iterator[RaWatch]:
    """A capture on every segment of `routers` in the lab, on its bridge in
    the router's namespace; the segment's first host solicits (its eth0)."""
    plan = lab.plan
    taps = []
    for router in routers:
        for segment6 in router.segments:
            segment = next(
                (
                    s
                    for s in plan.segments
                    if (s.router, s.bridge) == (router.name, segment6.interface)
                ),
                None,
            )
            host = next(
                (h for h in plan.hosts if segment is not None and h.segment == segment.name), None
            )
            taps.append(
                RaTap(
                    router.name,
                    segment6.interface,
                    namespace=lab.namespace(router.name),
                    solicit_from=(host.namespace, "eth0") if host is not None else None,
                )
            )
    watch = RaWatch(taps, netns.entered)
    try:
        yield watch
    finally:
        watch.close()
