"""The isolation-matrix invariant: security groups implement the matrix, both ways."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from estate import Estate
from infra.checks import ESTATE_PROTOCOL, PORT, SEC_GROUP, SEC_RULE, Index
from infra.planning import Planned
from infra.security_groups import guarded_zones


def _rule_remote_zones(rule: Planned, idx: Index) -> set[str]:
    i = rule.inputs
    if i.get("remoteAddressGroupId"):
        group = idx.ref(i["remoteAddressGroupId"])
        return idx.zones_of(group.inputs.get("addresses") or []) if group else set()
    if i.get("remoteIpPrefix"):
        return idx.zones_of([i["remoteIpPrefix"]])
    if i.get("remoteGroupId"):
        group = idx.ref(i["remoteGroupId"])
        return _group_zones(group, idx) if group else set()
    return set(idx.zone_sets)  # no remote: everything, the internet included


def _group_zones(group: Planned, idx: Index) -> set[str]:
    """Where a security group is applied: its zone by name, and the zones of its ports."""
    zones = set()
    name = group.inputs.get("name", "")
    if name.startswith("zone-") and name[5:] in idx.zone_sets:
        zones.add(name[5:])
    for port in idx.of(PORT):
        if group.id in (port.inputs.get("securityGroupIds") or []):
            zones |= idx.port_zones(port)
    return zones


def _estate_protocol(rule: Planned) -> str:
    protocol = rule.inputs.get("protocol")
    if not protocol:
        return "any"
    if protocol == "icmp" and rule.inputs.get("ethertype") == "IPv6":
        return "icmpv6"
    return ESTATE_PROTOCOL.get(str(protocol), str(protocol))


def isolation_matrix(idx: Index, _: Mapping[str, Any]) -> tuple[int, list[str]]:
    estate = idx.estate
    findings: list[str] = []
    groups = {g.id: g for g in idx.of(SEC_GROUP)}
    group_zones = {gid: _group_zones(g, idx) for gid, g in groups.items()}
    for g in groups.values():
        if g.inputs.get("deleteDefaultRules") is not True:
            findings.append(f"{g.name}: default rules kept (egress to anywhere stays open)")
    # 1. no rule opens a flow the matrix does not allow
    realised: dict[tuple[str, str, str, str], list[tuple[int | None, int | None]]] = defaultdict(
        list
    )
    for rule in idx.of(SEC_RULE):
        i = rule.inputs
        here = group_zones.get(i.get("securityGroupId", ""), set())
        if not here:
            findings.append(f"{rule.name}: belongs to no known security group")
            continue
        remote = _rule_remote_zones(rule, idx)
        protocol = _estate_protocol(rule)
        low, high = i.get("portRangeMin"), i.get("portRangeMax")
        family = str(i.get("ethertype"))
        for zone in here:
            for other in remote:
                src, dst = (other, zone) if i.get("direction") == "ingress" else (zone, other)
                realised[(i.get("direction", ""), src, dst, f"{protocol}/{family}")].append(
                    (low, high)
                )
                if src == dst:
                    continue
                bad = _first_disallowed(estate, src, dst, protocol, low, high)
                if bad is not None:
                    findings.append(
                        f"{rule.name}: opens {bad} from {src} to {dst}, which the matrix does not allow"
                    )
    # 2. every flow the matrix allows is present, on both sides
    guarded = set(guarded_zones(estate))
    for m in estate.isolation:
        for src in _expand(estate, m.src, m.dst):
            for dst in _expand(estate, m.dst, src):
                if src == dst:
                    continue
                for service in m.services:
                    for protocol, family in _families(service.protocol):
                        want = (service.port_min, service.port_max or service.port_min)
                        sides = []
                        if dst in guarded:
                            sides.append("ingress")
                        if src in guarded:
                            sides.append("egress")
                        for direction in sides:
                            have = realised.get((direction, src, dst, f"{protocol}/{family}"), [])
                            have += realised.get((direction, src, dst, f"any/{family}"), [])
                            if not any(_covers(r, want) for r in have):
                                findings.append(
                                    f"matrix allows {service} from {src} to {dst} "
                                    f"but no {direction} {family} rule opens it"
                                )
    # 3. every port is guarded by its own zone's group and nothing else
    for port in idx.of(PORT):
        zones = idx.port_zones(port)
        ids = port.inputs.get("securityGroupIds") or []
        if port.inputs.get("portSecurityEnabled") is False or not ids:
            findings.append(f"{port.name}: port without security groups bypasses the matrix")
            continue
        for gid in ids:
            if gid not in group_zones or not group_zones[gid] <= zones | {""}:
                findings.append(f"{port.name}: in {sorted(zones)} carries group {gid}")
    return len(idx.of(SEC_RULE)) + len(idx.of(PORT)), findings


def _expand(estate: Estate, name: str, other: str) -> list[str]:
    return [z.name for z in estate.zones if z.name != other] if name == "*" else [name]


def _families(protocol: str) -> list[tuple[str, str]]:
    if protocol == "icmp":
        return [("icmp", "IPv4"), ("icmpv6", "IPv6")]
    if protocol == "icmpv6":
        return [("icmpv6", "IPv6")]
    return [(protocol, "IPv4"), (protocol, "IPv6")]


def _covers(have: tuple[int | None, int | None], want: tuple[int | None, int | None]) -> bool:
    if have[0] is None:
        return True
    if want[0] is None:
        return False
    return have[0] <= want[0] and (want[1] or want[0]) <= (have[1] or have[0])


def _first_disallowed(
    estate: Estate, src: str, dst: str, protocol: str, low: int | None, high: int | None
) -> str | None:
    if protocol == "any":
        return None if estate.allowed(src, dst, "any") else "every protocol"
    if protocol not in ("tcp", "udp") or low is None:
        return None if estate.allowed(src, dst, protocol) else f"{protocol} (all ports)"
    for port in range(low, (high or low) + 1):
        if not estate.allowed(src, dst, protocol, port):
            return f"{protocol}/{port}"
    return None
