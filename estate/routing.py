"""A router's routing, derived from the estate, and the one FRR rendering of it.

The dual links (市、县、乡三级双主干、主备双链路) run OSPFv2 and OSPFv3 point to
point on the primary and backup uplinks, the primary cheaper so traffic
prefers it, BFD on the links of the levels that fail over fast, the LANs
passive, and the router id from the address plan (the node's first device's
management address).

The rendering lives here, beside the data, because two rooms need the same
text and may not import each other (pyproject's import layers): the lab
renders it when it starts a router, and the `dual_links` Ansible role renders
it (through its filter plugin) when it rolls routing out to a router. A lab
brought up with routing and a lab given routing by the rollout therefore
route the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from estate.model import Estate

# OSPF cost per link role: the backup carries traffic only when the primary is gone.
COSTS = {"primary": 10, "backup": 100}
BFD_LEVELS = ("county", "township")
BFD_PROFILE = "yunwang"


@dataclass(frozen=True)
class Bfd:
    interval_ms: int = 300
    multiplier: int = 3


_BFD_DEFAULT = Bfd()  # FRR's own: 300 ms x 3


@dataclass(frozen=True)
class OspfInterface:
    """One interface in area 0; `cost` None makes it passive (a LAN, a zone)."""

    name: str
    cost: int | None = None
    bfd: bool = False
    link: str | None = None  # the estate's link id, for uplinks and downlinks
    role: str | None = None  # primary | backup


@dataclass(frozen=True)
class RouterRouting:
    node: str
    router_id: str
    interfaces: tuple[OspfInterface, ...]
    bfd: Bfd = field(default_factory=Bfd)
    hello_s: int = 1
    dead_s: int = 4
    ospf6: bool = True  # False: an IPv4-only router (before its IPv6 migration)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RouterRouting:
        return cls(
            node=str(raw["node"]),
            router_id=str(raw["router_id"]),
            interfaces=tuple(OspfInterface(**i) for i in raw["interfaces"]),
            bfd=Bfd(**raw.get("bfd", {})),
            hello_s=int(raw.get("hello_s", 1)),
            dead_s=int(raw.get("dead_s", 4)),
            ospf6=bool(raw.get("ospf6", True)),
        )


def cost(role: str) -> int:
    return COSTS.get(role, COSTS["primary"])


def router_routing(estate: Estate, node_id: str, bfd: Bfd | None = None) -> RouterRouting:
    """A node's routing on its own devices: interfaces named as the estate names them."""
    node = estate.node(node_id)
    interfaces = [OspfInterface(f"{node.id}-lan")]
    for link in estate.links():
        if node_id not in (link.child, link.parent):
            continue
        end = link.child_end if link.child == node_id else link.parent_end
        interfaces.append(
            OspfInterface(
                end.interface,
                cost(link.role),
                bfd=link.level in BFD_LEVELS,
                link=link.id,
                role=link.role,
            )
        )
    return RouterRouting(node.id, str(node.gateway4), tuple(interfaces), bfd or Bfd())


def render_frr(routing: RouterRouting, *, hostname: str, preamble: Sequence[str] = ()) -> str:
    """The router's whole FRR configuration: OSPFv2 + OSPFv3, BFD.

    `preamble` holds deployment lines (log file, agentx) that are not routing.
    """
    lines = [
        "frr defaults traditional",
        f"hostname {hostname}",
        *preamble,
        "!",
    ]
    if not routing.interfaces:
        return "\n".join(lines) + "\n"
    # Only what differs from FRR's defaults: the running configuration omits
    # defaults, and frr-reload.py would otherwise see a difference every time.
    timers = []
    if routing.bfd.interval_ms != _BFD_DEFAULT.interval_ms:
        timers += [
            f"  transmit-interval {routing.bfd.interval_ms}",
            f"  receive-interval {routing.bfd.interval_ms}",
        ]
    if routing.bfd.multiplier != _BFD_DEFAULT.multiplier:
        timers.append(f"  detect-multiplier {routing.bfd.multiplier}")
    lines += ["bfd", f" profile {BFD_PROFILE}", *timers, " exit", "exit", "!"]
    for iface in routing.interfaces:
        lines += [f"interface {iface.name}", " ip ospf area 0", " ipv6 ospf6 area 0"]
        if iface.cost is None:
            lines += [" ip ospf passive", " ipv6 ospf6 passive"]
        else:
            lines += [
                " ip ospf network point-to-point",
                f" ip ospf cost {iface.cost}",
                f" ip ospf hello-interval {routing.hello_s}",
                f" ip ospf dead-interval {routing.dead_s}",
                " ipv6 ospf6 network point-to-point",
                f" ipv6 ospf6 cost {iface.cost}",
                f" ipv6 ospf6 hello-interval {routing.hello_s}",
                f" ipv6 ospf6 dead-interval {routing.dead_s}",
            ]
            if iface.bfd:
                lines += [
                    " ip ospf bfd",
                    f" ip ospf bfd profile {BFD_PROFILE}",
                    " ipv6 ospf6 bfd",
                    f" ipv6 ospf6 bfd profile {BFD_PROFILE}",
                ]
        lines += ["exit", "!"]
    lines += [
        "router ospf",
        f" ospf router-id {routing.router_id}",
        # Low SPF/LSA throttles: a failover is a topology change to act on at once.
        " timers throttle spf 0 50 500",
        " timers throttle lsa all 0",
        " timers lsa min-arrival 0",
        "exit",
        "!",
        "router ospf6",
        f" ospf6 router-id {routing.router_id}",
        " timers throttle spf 0 50 500",
        " timers lsa min-arrival 0",
        "exit",
        "!",
    ]
    if not routing.ospf6:
        # OSPFv2 alone: every OSPFv3 line, and the `router ospf6` block (the last).
        lines = [line for line in lines[: lines.index("router ospf6")] if "ospf6" not in line]
    return "\n".join(lines) + "\n"
