"""What is running: routers and their agents, links and their state, hosts."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from lab import frr, netns
from lab.blueprint import LabPlan
from lab.errors import LabError
from lab.proc import alive
from lab.state import LabState


@dataclass
class RouterStatus:
    node: str
    level: str
    namespace: str
    daemons: str  # "4/4"
    snmpd: bool
    ospf_full: int  # OSPFv2 neighbours in state Full
    ospf6_full: int
    snmp_address: str


@dataclass
class LinkStatus:
    link: str
    role: str
    level: str
    child_end: str
    parent_end: str
    state: str  # up | down | cut | blackhole | throttled <rate>


@dataclass
class HostStatus:
    name: str
    segment: str
    address4: str
    address6: str
    sshd: bool


@dataclass
class LabStatus:
    directory: str
    phase: str
    estate: str | None
    routers: list[RouterStatus]
    links: list[LinkStatus]
    hosts: list[HostStatus]
    timings: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def collect(state: LabState) -> LabStatus:
    if not state.plan:
        return LabStatus(str(state.directory), state.phase, None, [], [], [], state.timings)
    plan = LabPlan.from_dict(state.plan)
    by_ns: dict[str, list[tuple[str, bool]]] = {}
    for p in state.processes:
        by_ns.setdefault(p.namespace or "", []).append((p.what, alive(p.pid, p.started)))
    # Two vtysh calls per router: ask all routers at once.
    with ThreadPoolExecutor(max_workers=8) as pool:
        adjacencies = list(pool.map(lambda r: _full_neighbours(r.namespace, plan), plan.routers))
    routers = []
    for r, (full4, full6) in zip(plan.routers, adjacencies, strict=True):
        procs = by_ns.get(r.namespace, [])
        daemons = [ok for what, ok in procs if what.startswith("frr:")]
        routers.append(
            RouterStatus(
                r.node,
                r.level,
                r.namespace,
                f"{sum(daemons)}/{len(frr.DAEMONS)}",
                any(ok for what, ok in procs if what == "snmpd"),
                full4,
                full6,
                r.mgmt4[0],
            )
        )
    links = [
        LinkStatus(
            c.link,
            c.role,
            c.level,
            f"{c.child}:{c.child_if}",
            f"{c.parent}:{c.parent_if}",
            _link_state(state, c.link, c.child_ns, c.child_if, c.parent_ns, c.parent_if),
        )
        for c in plan.cables
    ]
    hosts = [
        HostStatus(
            h.name,
            h.segment,
            h.address4,
            h.address6,
            any(ok for what, ok in by_ns.get(h.namespace, []) if what == "host"),
        )
        for h in plan.hosts
    ]
    return LabStatus(
        str(state.directory), state.phase, state.estate, routers, links, hosts, state.timings
    )


def _full_neighbours(namespace: str, plan: LabPlan) -> tuple[int, int]:
    router = next(r for r in plan.routers if r.namespace == namespace)
    try:
        v2 = json.loads(frr.vtysh(router, "show ip ospf neighbor json")).get("neighbors", {})
        v3 = json.loads(frr.vtysh(router, "show ipv6 ospf6 neighbor json")).get("neighbors", [])
    except (LabError, json.JSONDecodeError):
        return 0, 0
    full4 = sum(
        1
        for ns in v2.values()
        for n in ns
        if str(n.get("nbrState", n.get("state", ""))).startswith("Full")
    )
    full6 = sum(1 for n in v3 if n.get("state") == "Full")
    return full4, full6


def _link_state(
    state: LabState, link: str, child_ns: str, child_if: str, parent_ns: str, parent_if: str
) -> str:
    chaos = state.chaos.get(link)
    if chaos and chaos["state"] == "throttled":
        return f"throttled {chaos['rate_bps'] / 1e6:g} Mbit/s"
    if chaos:
        return str(chaos["state"])
    operstates = []
    for namespace, ifname in ((child_ns, child_if), (parent_ns, parent_if)):
        info = next((i for i in netns.links(namespace) if i.get("ifname") == ifname), None)
        operstates.append(info.get("operstate", "?") if info else "missing")
    return "up" if all(s == "UP" for s in operstates) else "down"
