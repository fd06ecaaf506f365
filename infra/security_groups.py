"""The isolation matrix turned into security-group rules, and zones into address sets.

Pure functions over the estate, shared by the program (to create the rules)
and by the invariants (to know which zone an address group stands for).
Nothing here talks to Pulumi.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, summarize_address_range
from typing import Literal

from estate import Estate

Network = IPv4Network | IPv6Network
Direction = Literal["ingress", "egress"]
Ethertype = Literal["IPv4", "IPv6"]

# Neutron's protocol names; None means any protocol.
NEUTRON_PROTOCOL = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "icmpv6": "ipv6-icmp"}


@dataclass(frozen=True, order=True)
class RuleSpec:
    """One security-group rule of a zone's group, before it becomes a resource."""

    zone: str  # the zone whose security group holds the rule
    direction: Direction
    ethertype: Ethertype
    protocol: str | None
    port_min: int | None
    port_max: int | None
    remote_zone: str  # the zone on the other side, always an address group

    @property
    def key(self) -> str:
        """A stable, readable resource-name suffix."""
        proto = self.protocol or "any"
        ports = "" if self.port_min is None else f"-{self.port_min}"
        if self.port_max not in (None, self.port_min):
            ports += f"to{self.port_max}"
        way = "in" if self.direction == "ingress" else "out"
        v = "4" if self.ethertype == "IPv4" else "6"
        return f"{way}-{self.remote_zone}-{proto}{ports}-v{v}"


def guarded_zones(estate: Estate) -> list[str]:
    """Zones that get a security group: every zone hosts can live in (not the internet)."""
    return [z.name for z in estate.zones if z.kind != "internet"]


def zone_address_sets(estate: Estate) -> dict[str, list[Network]]:
    """Every zone's exact address space as a minimal list of prefixes.

    A zone is more than its own slot: the extranet zone, for instance, also
    owns the link and county/township blocks, minus the slots other zones
    were cut from. Rather than guess the lookup's rules, the plan's boundaries
    cut the address space into pieces that no prefix splits; each piece asks
    `estate.zone_of` once, and neighbouring pieces of the same zone merge.
    The internet zone (if declared) gets everything outside the plan, so a
    rule "from the internet" never opens a port to the city's own zones.
    """
    allocations = estate.prefixes()
    sets: dict[str, list[Network]] = {z.name: [] for z in estate.zones}
    for family in (4, 6):
        top = 2**32 if family == 4 else 2**128
        cuts = {0, top}
        for a in allocations:
            net: Network = a.ipv4 if family == 4 else a.ipv6
            cuts.add(int(net.network_address))
            cuts.add(int(net.broadcast_address) + 1)
        bounds = sorted(cuts)
        runs: list[tuple[int, int, str]] = []
        for start, end in itertools.pairwise(bounds):
            zone = estate.zone_of(_address(family, start))
            if zone is None:
                continue
            if runs and runs[-1][2] == zone and runs[-1][1] == start:
                runs[-1] = (runs[-1][0], end, zone)
            else:
                runs.append((start, end, zone))
        for start, end, zone in runs:
            first, last = _address(family, start), _address(family, end - 1)
            sets.setdefault(zone, []).extend(summarize_address_range(first, last))
    return sets


def _address(family: int, value: int) -> IPv4Address | IPv6Address:
    return IPv4Address(value) if family == 4 else IPv6Address(value)


def _expand(estate: Estate, name: str, other: str) -> list[str]:
    """A matrix endpoint as concrete zones; "*" is every zone but the other side."""
    if name != "*":
        return [name]
    return [z.name for z in estate.zones if z.name != other]


def _ethertypes(protocol: str) -> list[tuple[Ethertype, str | None]]:
    if protocol == "any":
        return [("IPv4", None), ("IPv6", None)]
    if protocol == "icmp":
        # The matrix's "icmp" opens ICMPv6 too (estate.Service.matches).
        return [("IPv4", "icmp"), ("IPv6", "ipv6-icmp")]
    if protocol == "icmpv6":
        return [("IPv6", "ipv6-icmp")]
    return [("IPv4", NEUTRON_PROTOCOL[protocol]), ("IPv6", NEUTRON_PROTOCOL[protocol])]


def matrix_rules(estate: Estate) -> list[RuleSpec]:
    """The rules that implement the isolation matrix, both ways, deduplicated and sorted.

    Each allowed flow src -> dst appears as an ingress rule on dst's group
    (remote: src's address group) and an egress rule on src's group (remote:
    dst's address group); a zone without a group (the internet) only gets
    the half on our side. Traffic inside a zone is open in both directions,
    as the matrix leaves it to the zone. Default rules are deleted, so these
    are all the rules there are.
    """
    guarded = set(guarded_zones(estate))
    specs: set[RuleSpec] = set()
    for zone in guarded:
        for ethertype in ("IPv4", "IPv6"):
            specs.add(RuleSpec(zone, "ingress", ethertype, None, None, None, zone))
            specs.add(RuleSpec(zone, "egress", ethertype, None, None, None, zone))
    for rule in estate.isolation:
        for src in _expand(estate, rule.src, rule.dst):
            for dst in _expand(estate, rule.dst, src):
                if src == dst:
                    continue
                for service in rule.services:
                    for ethertype, protocol in _ethertypes(service.protocol):
                        ports = (service.port_min, service.port_max or service.port_min)
                        if service.port_min is None:
                            ports = (None, None)
                        if dst in guarded:
                            specs.add(RuleSpec(dst, "ingress", ethertype, protocol, *ports, src))
                        if src in guarded:
                            specs.add(RuleSpec(src, "egress", ethertype, protocol, *ports, dst))
    return sorted(specs, key=_sort_key)


def _sort_key(spec: RuleSpec) -> tuple[str, str, str, str, str, int, int]:
    return (
        spec.zone,
        spec.direction,
        spec.remote_zone,
        spec.ethertype,
        spec.protocol or "",
        spec.port_min or 0,
        spec.port_max or 0,
    )


def rules_for(specs: list[RuleSpec], zone: str) -> Iterator[RuleSpec]:
    return (s for s in specs if s.zone == zone)
