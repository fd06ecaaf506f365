"""Is a router's dual link working? Judged from what the router itself says.

The rollout reads each router's vtysh JSON (through the dual_links role's
observe tasks) and asks, for every uplink: is the OSPFv2 and the OSPFv3
neighbour Full on it, is its BFD session up (IPv4 and IPv6) where the level
runs BFD, and does the route towards the parent leave by the primary? Each
"no" is a Finding naming the node, the link and what was seen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from playbooks.dual_links import RouterTarget

OSPF4 = "show ip ospf neighbor json"
OSPF6 = "show ipv6 ospf6 neighbor json"
BFD = "show bfd peers json"
ROUTE_PREFIX = "show ip route "


@dataclass(frozen=True)
class Finding:
    node: str
    link: str
    seen: str

    def __str__(self) -> str:
        return f"{self.node} {self.link}: {self.seen}"


def _json(seen: Mapping[str, str], command: str) -> Any:
    text = seen.get(command)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _ospf4_states(raw: Any) -> dict[str, str]:
    """interface -> the best state an OSPFv2 neighbour on it is in."""
    states: dict[str, str] = {}
    neighbours = raw.get("neighbors", {}) if isinstance(raw, dict) else {}
    for entries in neighbours.values() if isinstance(neighbours, dict) else []:
        for n in entries if isinstance(entries, list) else []:
            iface = str(n.get("ifaceName", "")).split(":")[0]
            state = str(n.get("nbrState", n.get("state", ""))).split("/")[0]
            if states.get(iface) != "Full":
                states[iface] = state
    return states


def _ospf6_states(raw: Any) -> dict[str, str]:
    states: dict[str, str] = {}
    neighbours = raw.get("neighbors", []) if isinstance(raw, dict) else []
    for n in neighbours if isinstance(neighbours, list) else []:
        iface = str(n.get("interfaceName", ""))
        if states.get(iface) != "Full":
            states[iface] = str(n.get("state", ""))
    return states


def _bfd_states(raw: Any) -> dict[tuple[str, int], str]:
    """(interface, family) -> session status."""
    states: dict[tuple[str, int], str] = {}
    for peer in raw if isinstance(raw, list) else []:
        family = 6 if ":" in str(peer.get("peer", "")) else 4
        key = (str(peer.get("interface", "")), family)
        if states.get(key) != "up":
            states[key] = str(peer.get("status", ""))
    return states


def _route_interfaces(raw: Any) -> list[str]:
    """The interfaces the selected route leaves by (active next hops)."""
    routes = raw if isinstance(raw, dict) else {}
    for entries in routes.values():
        for route in entries if isinstance(entries, list) else []:
            if route.get("selected"):
                return [
                    str(h.get("interfaceName", ""))
                    for h in route.get("nexthops", [])
                    if h.get("active")
                ]
    return []


def check_router(target: RouterTarget, seen: Mapping[str, str]) -> list[Finding]:
    """Findings for one router from its observed command outputs (empty: healthy)."""
    if not target.uplinks:
        return []  # the city: nothing above it to be adjacent to
    out: list[Finding] = []
    raw4, raw6, raw_bfd = _json(seen, OSPF4), _json(seen, OSPF6), _json(seen, BFD)
    for command, raw in ((OSPF4, raw4), (OSPF6, raw6), (BFD, raw_bfd)):
        if raw is None:
            out.append(Finding(target.node, "-", f"no JSON from `{command}`"))
    if out:
        return out
    ospf4, ospf6, bfd = _ospf4_states(raw4), _ospf6_states(raw6), _bfd_states(raw_bfd)
    for up in target.uplinks:
        for protocol, states in (("OSPFv2", ospf4), ("OSPFv3", ospf6)):
            state = states.get(up.interface)
            if state != "Full":
                out.append(
                    Finding(
                        target.node,
                        up.link,
                        f"{protocol} neighbour on {up.interface} is {state or 'absent'}, "
                        "expected Full",
                    )
                )
        if up.bfd:
            for family in (4, 6):
                status = bfd.get((up.interface, family))
                if status != "up":
                    out.append(
                        Finding(
                            target.node,
                            up.link,
                            f"BFD (IPv{family}) on {up.interface} is {status or 'absent'}, "
                            "expected up",
                        )
                    )
    primary = next((u for u in target.uplinks if u.role == "primary"), None)
    route = next((c for c in seen if c.startswith(ROUTE_PREFIX)), None)
    if primary is not None and route is not None:
        leaves = _route_interfaces(_json(seen, route))
        if primary.interface not in leaves:
            where = ", ".join(leaves) or "no route"
            out.append(
                Finding(
                    target.node,
                    primary.link,
                    f"route to the parent ({route.removeprefix(ROUTE_PREFIX).split()[0]}) "
                    f"leaves by {where}, expected the primary {primary.interface}",
                )
            )
    return out
