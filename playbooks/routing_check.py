"""Is a router's dual link working? Judged from what the router itself says.

The rollout reads each router's vtysh JSON (through the dual_links role's
observe tasks) and asks, for every uplink: is the OSPFv2 and the OSPFv3
neighbour Full on it, is its BFD session up (IPv4 and IPv6) where the level
runs BFD, and does the route towards the parent leave by the primary? And,
for every link of the router: does OSPFv2 and OSPFv3 run the cost the estate
declares, and BFD the declared timers? OSPFv3 and the IPv6 BFD sessions are
asked for only of a router that runs OSPFv3 (declared dual-stack, or made
so by the IPv6 migration): an IPv4-only router is judged on IPv4 alone. Each "no" is a Finding naming the
node, the link and what was seen against what was declared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from estate.routing import RouterRouting
from playbooks.dual_links import (
    BFD,
    OSPF4,
    OSPF4_INTERFACES,
    OSPF6,
    OSPF6_INTERFACES,
    RouterTarget,
    observe,
)

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


def documents(text: str) -> list[str]:
    """vtysh prints one JSON document per -c command, back to back."""
    decoder = json.JSONDecoder()
    out, i = [], 0
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        try:
            _, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            break  # a command that did not answer JSON: the rest cannot be attributed
        out.append(text[i:end])
        i = end
    return out


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


def _costs(raw: Any) -> dict[str, int]:
    """interface -> the OSPF cost it runs (ospfd and ospf6d both key by name)."""
    interfaces = raw.get("interfaces", raw) if isinstance(raw, dict) else {}
    out: dict[str, int] = {}
    for name, detail in interfaces.items() if isinstance(interfaces, dict) else []:
        cost = detail.get("cost") if isinstance(detail, dict) else None
        if isinstance(cost, int):
            out[str(name)] = cost
    return out


def _bfd_timers(raw: Any) -> dict[tuple[str, int], tuple[int, int, int]]:
    """(interface, family) -> the (transmit ms, receive ms, multiplier) its
    session runs: the local, configured timers, not the negotiated ones."""
    timers: dict[tuple[str, int], tuple[int, int, int]] = {}
    for peer in raw if isinstance(raw, list) else []:
        values = [
            peer.get(k) for k in ("transmit-interval", "receive-interval", "detect-multiplier")
        ]
        if all(isinstance(v, int) for v in values):
            family = 6 if ":" in str(peer.get("peer", "")) else 4
            tx, rx, mult = values
            timers[(str(peer.get("interface", "")), family)] = (tx, rx, mult)
    return timers


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


def observed(commands: Sequence[str], stdout: str) -> dict[str, str]:
    """command -> its JSON text, from one vtysh run of `commands` in order."""
    return dict(zip(commands, documents(stdout), strict=False))


def check_router(target: RouterTarget, seen: Mapping[str, str]) -> list[Finding]:
    """Findings for one router from its observed command outputs (empty: healthy)."""
    out = [
        Finding(target.node, "-", f"no JSON from `{command}`")
        for command in observe(target.ospf6)
        if _json(seen, command) is None
    ]
    if out:
        return out
    families = (4, 6) if target.ospf6 else (4,)
    protocols = [("OSPFv2", _ospf4_states(_json(seen, OSPF4)))]
    if target.ospf6:
        protocols.append(("OSPFv3", _ospf6_states(_json(seen, OSPF6))))
    bfd = _bfd_states(_json(seen, BFD))
    for up in target.uplinks:
        for protocol, states in protocols:
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
            for family in families:
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
    out += _declared_findings(target, seen)
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


def _declared_findings(target: RouterTarget, seen: Mapping[str, str]) -> list[Finding]:
    """Every link of the router runs the cost and BFD timers the estate declares."""
    declared = RouterRouting.from_dict(target.routing)
    out: list[Finding] = []
    commands = [("OSPFv2", OSPF4_INTERFACES)]
    if target.ospf6:
        commands.append(("OSPFv3", OSPF6_INTERFACES))
    costs = {protocol: _costs(_json(seen, command)) for protocol, command in commands}
    sessions = _bfd_timers(_json(seen, BFD))
    for iface in declared.interfaces:
        if iface.cost is None:
            continue  # passive: a LAN or a zone, no link to cost
        link = iface.link or iface.name
        for protocol, running in costs.items():
            cost = running.get(iface.name)
            if cost != iface.cost:
                seen_cost = "absent" if cost is None else str(cost)
                out.append(
                    Finding(
                        target.node,
                        link,
                        f"{protocol} cost on {iface.name} is {seen_cost}, declared {iface.cost}",
                    )
                )
        want = declared.timers(iface)
        if want is None:
            continue
        for family in (4, 6) if target.ospf6 else (4,):
            # A missing session is the uplink check's finding (or a child not yet routed).
            have = sessions.get((iface.name, family))
            if have is not None and have != (want.interval_ms, want.interval_ms, want.multiplier):
                tx, rx, mult = have
                out.append(
                    Finding(
                        target.node,
                        link,
                        f"BFD (IPv{family}) on {iface.name} runs transmit {tx} ms, receive "
                        f"{rx} ms x {mult}, declared {want.interval_ms} ms x {want.multiplier}",
                    )
                )
    return out
