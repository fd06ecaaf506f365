"""Which part of the estate a lab holds, and where its hosts go.

Pure functions of the estate and the slice, shared by `lab.plan`: the nodes
(city, first N counties, townships, villages), the host slots (spread over
the city's zones and the townships of different counties), and the estate
networks the slice uses (what `AddressMap` packs into the test ranges).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network
from typing import Any, TypeVar

from estate import Estate, Link, Node
from estate.addressing import first_64, nth_host4, nth_host6
from lab.addressing import INTERNET4, INTERNET6, Network
from lab.errors import LabError

T = TypeVar("T")


@dataclass(frozen=True)
class Slice:
    """How much of the estate to build: first N counties, N townships per
    county, N villages per township, N hosts in all (and N in the DR centre)."""

    counties: int = 2
    townships: int = 1
    villages: int = 1
    hosts: int = 4
    dr_hosts: int = 0  # hosts in the DR centre, a site of its own (lab/drsite.py)

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value < 0:
                raise LabError(f"--{name}: expected 0 or more, found {value}")


def select_nodes(estate: Estate, cut: Slice) -> list[Node]:
    """The city, then each chosen county with its chosen townships and villages."""
    chosen: list[Node] = estate.nodes(level="city")[:1]
    if not chosen:
        raise LabError(f"{estate.file}: the estate has no city node to build a lab from")
    for county in estate.nodes(level="county")[: cut.counties]:
        chosen.append(county)
        townships = [n for n in estate.nodes(level="township") if n.parent == county.id]
        for township in townships[: cut.townships]:
            chosen.append(township)
            villages = [n for n in estate.nodes(level="village") if n.parent == township.id]
            chosen.extend(villages[: cut.villages])
    return [n for n in chosen if n.devices]


def plan_space(estate: Estate, version: int) -> Any:
    regions = [getattr(a, f"ipv{version}") for a in estate.prefixes(kind="region")]
    if not regions:
        regions = [getattr(a, f"ipv{version}") for a in estate.prefixes()]
    low = min(int(n.network_address) for n in regions)
    high = max(int(n.broadcast_address) for n in regions)
    bits = 32 if version == 4 else 128
    prefixlen = bits - (high - low).bit_length() if high > low else bits
    while True:
        net = ip_network(f"{_addr(low, version)}/{prefixlen}", strict=False)
        if int(net.broadcast_address) >= high:
            return net
        prefixlen -= 1


def _addr(value: int, version: int) -> str:
    return str(IPv4Address(value) if version == 4 else IPv6Address(value))


# --- hosts: where they go ------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    name: str
    segment: str  # "zone:NAME" or "lan:NODE"
    zone: str | None
    address4: Any
    address6: Any
    net4: Network
    net6: Network
    system: str | None


def host_slots(estate: Estate, nodes: list[Node], count: int) -> list[Slot]:
    """Spread hosts over levels and zones: a cloud host, township LANs (one
    per county first), the internet, then cloud hosts of each zone in turn
    alternating with further township hosts."""
    by_zone: dict[str, list[Slot]] = {}
    for system in estate.systems():
        prefix4, prefix6 = estate.tenant_prefix(system.tenant, system.zone)
        for host in system.hosts:
            by_zone.setdefault(system.zone, []).append(
                Slot(
                    host.name,
                    f"zone:{system.zone}",
                    system.zone,
                    host.address4,
                    host.address6,
                    prefix4,
                    first_64(prefix6),
                    system.ref,
                )
            )
    zone_hosts = _round_robin([by_zone[z.name] for z in estate.zones if z.name in by_zone])
    lan_hosts: list[Slot] = []
    townships = [n for n in nodes if n.level == "township"]
    # One township per county first, so two hosts already span two counties.
    by_county: dict[str | None, list[Node]] = {}
    for t in townships:
        by_county.setdefault(t.county, []).append(t)
    ordered = _round_robin(list(by_county.values()))
    for township in ordered:
        try:
            address4, address6 = nth_host4(township.lan4, 10), nth_host6(township.lan6, 10)
        except IndexError:
            continue  # a LAN too small for hosts (.1-.9 are the devices')
        lan_hosts.append(
            Slot(
                f"{township.id}-h1",
                f"lan:{township.id}",
                None,
                address4,
                address6,
                township.lan4,
                township.lan6,
                None,
            )
        )
    internet = [
        Slot(
            f"{z.name}-h1",
            f"zone:{z.name}",
            z.name,
            INTERNET4[10],
            INTERNET6[10],
            INTERNET4,
            INTERNET6,
            None,
        )
        for z in estate.zones
        if z.kind == "internet"
    ]
    order: list[Slot] = zone_hosts[:1] + lan_hosts[:2] + internet[:1]
    # Alternate cloud and extranet hosts after the first four.
    cloud, extranet = zone_hosts[1:], lan_hosts[2:]
    rest = [s for pair in zip(cloud, extranet, strict=False) for s in pair]
    rest += cloud[len(extranet) :] + extranet[len(cloud) :]
    return (order + rest)[:count]


def used_networks(
    estate: Estate, nodes: list[Node], links: list[Link], slots: list[Slot]
) -> list[Network]:
    used: list[Network] = []
    for n in nodes:
        used += [n.lan4, n.lan6]
    for lk in links:
        used += [lk.net4, lk.net6]
    for net4, net6 in _zone_gateways(estate):
        used += [net4, net6]
    for s in slots:
        if s.zone is None or estate.zone(s.zone).kind != "internet":
            used += [s.net4, s.net6]
    return used


def _zone_gateways(estate: Estate) -> list[tuple[IPv4Network, IPv6Network]]:
    """The subnets a zone's segment routes: its tenants' prefixes, or (for a
    zone no tenant uses yet) the first /24 and /64 of the zone."""
    return [net for zone in estate.zones for net in zone_gateways_of(estate, zone.name)]


def zone_gateways_of(estate: Estate, zone: str) -> list[tuple[IPv4Network, IPv6Network]]:
    z = estate.zone(zone)
    tenant_nets = [
        (a.ipv4, first_64(a.ipv6))
        for a in estate.prefixes(kind="tenant")
        if a.key.endswith(f"/{zone}")
    ]
    if tenant_nets or z.prefix4 is None or z.prefix6 is None:
        return tenant_nets
    return [(next(z.prefix4.subnets(new_prefix=max(24, z.prefix4.prefixlen))), first_64(z.prefix6))]


def _round_robin(groups: list[list[T]]) -> list[T]:
    """First of each group, then second of each, ..."""
    longest = max((len(g) for g in groups), default=0)
    return [g[i] for i in range(longest) for g in groups if i < len(g)]
