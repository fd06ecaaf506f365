"""A router's routing, derived from the estate, and the one FRR rendering of it.

The dual links (市、县、乡三级双主干、主备双链路) run OSPFv2 and OSPFv3 point to
point on the primary and backup uplinks with the costs the estate declares
(extranet.dual_links, or a link's own), the primary cheaper so traffic
prefers it, BFD with the estate's timers on the links of the levels that fail
over fast, the LANs passive, and the router id from the address plan (the
node's first device's management address).

The rendering lives here, beside the data, because two rooms need the same
text and may not import each other (pyproject's import layers): the lab
renders it when it starts a router, and the `dual_links` Ansible role renders
it (through its filter plugin) when it rolls routing out to a router. A lab
brought up with routing and a lab given routing by the rollout therefore
route the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Typing only: the role's filter plugins import this module inside every
    # ansible-playbook run, and need neither the model nor pydantic.
    from estate.model import Estate

BFD_PROFILE = "yunwang"


@dataclass(frozen=True)
class Bfd:
    """BFD timers (extranet.dual_links.bfd, or a link's own); FRR's defaults."""

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
    # The link's own BFD timers where they differ from the router's (RouterRouting.bfd).
    bfd_timers: Bfd | None = None


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
            interfaces=tuple(_interface(i) for i in raw["interfaces"]),
            bfd=Bfd(**raw.get("bfd", {})),
            hello_s=int(raw.get("hello_s", 1)),
            dead_s=int(raw.get("dead_s", 4)),
            ospf6=bool(raw.get("ospf6", True)),
        )

    def timers(self, iface: OspfInterface) -> Bfd | None:
        """The BFD timers an interface runs; None: no BFD on it."""
        return (iface.bfd_timers or self.bfd) if iface.bfd else None


def _interface(raw: dict[str, Any]) -> OspfInterface:
    timers = raw.get("bfd_timers")
    return OspfInterface(**{**raw, "bfd_timers": Bfd(**timers) if timers else None})


def with_bfd(
    node: str,
    router_id: str,
    interfaces: Sequence[OspfInterface],
    timers: dict[str, Bfd],
    *,
    ospf6: bool = True,
) -> RouterRouting:
    """A router whose BFD profile has its first BFD link's timers (`timers` by
    link id), so a router whose links all share the estate's timers renders
    one profile; a link with timers of its own names them on its interface."""
    first = next((timers[i.link] for i in interfaces if i.bfd and i.link in timers), Bfd())

    def own(iface: OspfInterface) -> Bfd | None:
        mine = timers.get(iface.link or "")
        return mine if mine is not None and mine != first else None

    return RouterRouting(
        node,
        router_id,
        tuple(replace(i, bfd_timers=own(i)) for i in interfaces),
        first,
        ospf6=ospf6,
    )


def router_routing(estate: Estate, node_id: str, bfd: Bfd | None = None) -> RouterRouting:
    """A node's routing on its own devices: interfaces named as the estate names them.

    `bfd` replaces the estate's BFD timers on every link that runs BFD.
    """
    node = estate.node(node_id)
    interfaces = [OspfInterface(f"{node.id}-lan")]
    timers: dict[str, Bfd] = {}
    for link in estate.links():
        if node_id not in (link.child, link.parent):
            continue
        end = link.child_end if link.child == node_id else link.parent_end
        interfaces.append(
            OspfInterface(
                end.interface, link.cost, bfd=link.bfd is not None, link=link.id, role=link.role
            )
        )
        if link.bfd is not None:
            timers[link.id] = bfd or link.bfd
    return with_bfd(node.id, str(node.gateway4), interfaces, timers)


def _profile(timers: Bfd) -> str:
    return f"{BFD_PROFILE}-{timers.interval_ms}x{timers.multiplier}"


def _bfd_profile(name: str, timers: Bfd) -> list[str]:
    # Only what differs from FRR's defaults: the running configuration omits
    # defaults, and frr-reload.py would otherwise see a difference every time.
    lines = [f" profile {name}"]
    if timers.interval_ms != _BFD_DEFAULT.interval_ms:
        lines += [
            f"  transmit-interval {timers.interval_ms}",
            f"  receive-interval {timers.interval_ms}",
        ]
    if timers.multiplier != _BFD_DEFAULT.multiplier:
        lines.append(f"  detect-multiplier {timers.multiplier}")
    return [*lines, " exit"]


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
    own = sorted({i.bfd_timers for i in routing.interfaces if i.bfd and i.bfd_timers}, key=_profile)
    lines += ["bfd", *_bfd_profile(BFD_PROFILE, routing.bfd)]
    for timers in own:
        lines += _bfd_profile(_profile(timers), timers)
    lines += ["exit", "!"]
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
                profile = _profile(iface.bfd_timers) if iface.bfd_timers else BFD_PROFILE
                lines += [
                    " ip ospf bfd",
                    f" ip ospf bfd profile {profile}",
                    " ipv6 ospf6 bfd",
                    f" ipv6 ospf6 bfd profile {profile}",
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
