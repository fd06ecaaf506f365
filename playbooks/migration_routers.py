"""The routers' part of the IPv6 migration: LAN prefixes, RA and OSPFv3.

A router's migration is three pieces, each from the estate:

- `prefix`: its LAN's (and, at the city, its zones') IPv6 gateway addresses
  from the address plan, as zebra `ipv6 address` lines;
- `ra`: Router Advertisements on those segments with the flags of the
  segment's `ipv6_mode` (estate.ipv6.ra_flags): the prefix, M and O;
- `ospf6`: OSPFv3 on every interface, as the estate's routing renders it
  (estate.routing.render_frr, the text the lab and the dual-link rollout use).
  Links run it on their link-local addresses (RFC 7404): no transit prefix
  is needed for the routers to route IPv6.

The controller renders the router's whole FRR configuration with the pieces
it should have; the role lets frr-reload.py apply only the difference, the
way FRR operators do. A rollback renders the same configuration without the
pieces to take back, so a failed batch returns to exactly what it had.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from ipaddress import ip_interface
from typing import TYPE_CHECKING, Any, Protocol

from estate.ipv6 import RaFlags, ra_flags
from estate.routing import RouterRouting, render_frr
from playbooks.runner import lab_connection

if TYPE_CHECKING:
    # Typing only: the dual-link role's filter plugin renders a migrated
    # router's IPv6 (render_ipv6) inside every ansible-playbook run.
    from estate import Estate

PIECES = ("prefix", "ra", "ospf6")


@dataclass(frozen=True)
class Segment6:
    """One router interface the migration gives IPv6: its gateway addresses and RA."""

    interface: str
    addresses: tuple[str, ...]  # addr/len
    ra: RaFlags

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Segment6:
        return cls(str(raw["interface"]), tuple(raw["addresses"]), RaFlags(**raw["ra"]))


@dataclass(frozen=True)
class MigrationRouter:
    """A router as the IPv6 migration reaches it (FRR on this machine in the lab)."""

    name: str  # the node id
    stage: str  # its level
    routing: dict[str, Any]  # estate.routing.RouterRouting.to_dict()
    segments: tuple[Segment6, ...]
    uplinks: tuple[str, ...]  # interfaces whose OSPFv3 neighbour must be Full
    address4: str  # its LAN gateway, addr/len: IPv4 must keep answering there
    pathspace: str = ""
    config: str = "/etc/frr/frr.conf"
    preamble: tuple[str, ...] = ()
    connection: dict[str, Any] = field(default_factory=dict)

    @property
    def router(self) -> str:
        """A router is its own router (a canary may name it either way)."""
        return self.name

    @property
    def ip6(self) -> str:
        """Its LAN gateway address: the NMS pings it over IPv6 through OSPFv3."""
        return self.segments[0].addresses[0].split("/")[0]

    @property
    def ip4(self) -> str:
        return self.address4.split("/")[0]


@dataclass(frozen=True)
class RouterSeen:
    """What a router shows of its IPv6, measured (see `Prober.router`)."""

    addresses6: frozenset[str]  # global addr/len in the kernel
    pieces: tuple[str, ...]  # the migration pieces in its running configuration
    full6: frozenset[str]  # interfaces with a Full OSPFv3 neighbour
    ra: dict[str, tuple[bool, bool]]  # interface sending RAs -> (M, O) as zebra has them
    ping6: str  # from the NMS to its LAN gateway: "" when it answered
    ping4: str


class HeardRa(Protocol):
    """The last Router Advertisement a router sent on a segment, off the wire
    (monitors/packets/ra_watch.py)."""

    @property
    def managed(self) -> bool: ...

    @property
    def other(self) -> bool: ...

    @property
    def prefixes(self) -> tuple[tuple[str, bool], ...]:
        """(prefix, A flag) of each Prefix Information option."""
        ...


# (router, interface) -> the RA heard on that segment, or what was seen instead.
HeardOn = Callable[[str, str], "HeardRa | str"]


def render(router: MigrationRouter, pieces: Iterable[str]) -> str:
    """The router's whole FRR configuration with these migration pieces."""
    return render_ipv6(
        router.routing,
        hostname=router.name,
        preamble=router.preamble,
        segments=router.segments,
        pieces=pieces,
    )


def render_ipv6(
    routing: dict[str, Any],
    *,
    hostname: str,
    preamble: Sequence[str],
    segments: Sequence[Segment6],
    pieces: Iterable[str],
) -> str:
    """A router's routing (RouterRouting.to_dict()) with these migration pieces
    on its segments: what the migration applies, and what the dual-link
    rollout renders for a router the migration has made dual-stack."""
    have = set(pieces)
    text = render_frr(
        replace(RouterRouting.from_dict(routing), ospf6="ospf6" in have),
        hostname=hostname,
        preamble=preamble,
    )
    for segment in segments:
        extra = _segment_lines(segment, have)
        if not extra:
            continue
        head = f"interface {segment.interface}\n"
        if head in text:
            text = text.replace(head, head + "".join(f"{line}\n" for line in extra), 1)
        else:  # no routing on it: an interface block of its own
            text += head + "".join(f"{line}\n" for line in extra) + "exit\n!\n"
    return text


def _segment_lines(segment: Segment6, have: set[str]) -> list[str]:
    lines = []
    if "prefix" in have:
        lines += [f" ipv6 address {a}" for a in segment.addresses]
    if "ra" in have:
        for network in sorted({str(ip_interface(a).network) for a in segment.addresses}):
            lines.append(
                f" ipv6 nd prefix {network}" + ("" if segment.ra.autonomous else " no-autoconfig")
            )
        lines.append(" no ipv6 nd suppress-ra")
        if segment.ra.managed:
            lines.append(" ipv6 nd managed-config-flag")
        if segment.ra.other:
            lines.append(" ipv6 nd other-config-flag")
    return lines


def undo_commands(router: MigrationRouter, pieces: Iterable[str]) -> str:
    """The FRR commands taking `pieces` back, as one file for one `vtysh -f`.

    frr-reload.py removes a line with one vtysh run per line (0.1-0.3 s each,
    ~8 lines per OSPFv3 interface): a county router's rollback spent seconds
    there. These are the same negations, in an order zebra accepts (RA before
    the addresses its prefixes come from).
    """
    undo = set(pieces)
    full = _contexts(render(router, PIECES))
    kept = _contexts(render(router, [p for p in PIECES if p not in undo]))
    lines: list[str] = []
    blocks: dict[str, list[str]] = {}
    for context, body in full.items():
        if context not in kept:
            lines.append(f"no {context}")
            continue
        gone = [line for line in body if line not in kept[context]]
        if gone:
            blocks[context] = sorted(gone, key=_undo_order)
    for context, gone in blocks.items():
        lines.append(context)
        lines += [f" {line[3:]}" if line.startswith("no ") else f" no {line}" for line in gone]
        lines.append("exit")
    return "\n".join(lines) + "\n"


def _contexts(text: str) -> dict[str, list[str]]:
    """Top-level context line -> its (stripped) lines, from rendered FRR text."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in text.splitlines():
        if raw.startswith((" ", "\t")):
            if current is not None:
                current.append(raw.strip())
        elif raw in ("!", "exit", "end") or not raw.strip():
            current = None
        elif raw.startswith(("interface ", "router ")):
            current = found.setdefault(raw, [])
        else:
            current = None
    return found


def _undo_order(line: str) -> int:
    """RA first, then addresses, then the rest (OSPFv3)."""
    if " nd " in f" {line} ":
        return 0
    return 1 if line.startswith("ipv6 address ") else 2


def pieces_in(router: MigrationRouter, running: str) -> list[str]:
    """The migration pieces a router's running configuration already has."""
    lines = {line.strip() for line in running.splitlines()}
    found = []
    addresses = {f"ipv6 address {a}" for s in router.segments for a in s.addresses}
    if addresses and addresses <= lines:
        found.append("prefix")
    if "no ipv6 nd suppress-ra" in lines:
        found.append("ra")
    if "router ospf6" in lines:
        found.append("ospf6")
    return found


def router_pieces(router: MigrationRouter, stdout: str) -> list[str]:
    """The pieces a reloaded router lacked: those not in the running
    configuration the router task found ("was: LINE")."""
    lines = stdout.splitlines()
    had = pieces_in(router, "\n".join(line[5:] for line in lines if line.startswith("was: ")))
    return [p for p in PIECES if p not in had]


def host_vars(router: MigrationRouter, *, state: str, undo: list[str] | None) -> dict[str, Any]:
    """The role's variables for one router: the configuration it should end with."""
    taken = [] if state == "present" else [p for p in PIECES if p in (undo or PIECES)]
    return {
        **router.connection,
        "ipv6_migration_kind": "router",
        "ipv6_migration_state": state,
        "ipv6_migration_frr": render(router, [p for p in PIECES if p not in taken]),
        "ipv6_migration_frr_undo": undo_commands(router, taken) if taken else "",
        "ipv6_migration_pathspace": router.pathspace,
        "ipv6_migration_frr_config": router.config,
    }


def router_findings(
    router: MigrationRouter, seen: RouterSeen, heard: HeardOn | None = None
) -> list[str]:
    """A migrated router's gates: its prefixes, RA flags, OSPFv3 Full on every
    uplink, ping6 from the NMS to its LAN gateway, IPv4 still answering.

    With `heard`, the RA gate is what the segment's wire carries; without,
    zebra's word for it (the real network has no capture on its LANs)."""
    findings = []
    for segment in router.segments:
        missing = [a for a in segment.addresses if a not in seen.addresses6]
        if missing:
            findings.append(f"{segment.interface}: no IPv6 prefix {', '.join(missing)}")
        if heard is not None:
            findings += _wire_ra(router.name, segment, heard(router.name, segment.interface))
            continue
        flags = seen.ra.get(segment.interface)
        wanted = (segment.ra.managed, segment.ra.other)
        if flags is None:
            findings.append(f"{segment.interface}: sends no Router Advertisements")
        elif flags != wanted:
            findings.append(
                f"{segment.interface}: RA flags M={int(flags[0])} O={int(flags[1])}, "
                f"the estate declares M={int(wanted[0])} O={int(wanted[1])}"
            )
    for uplink in router.uplinks:
        if uplink not in seen.full6:
            findings.append(f"{uplink}: OSPFv3 neighbour not Full")
    if seen.ping6:
        findings.append(f"ping6 {router.ip6} from the NMS: {seen.ping6}")
    if seen.ping4:
        findings.append(f"IPv4 ping {router.ip4}: {seen.ping4}")
    return findings


def _wire_ra(router: str, segment: Segment6, heard: HeardRa | str) -> list[str]:
    """One line when the RA on the wire is missing or differs from the estate's."""
    where = f"{segment.interface}: RA on the wire"
    if isinstance(heard, str):
        return [f"{where}: {heard}"]
    ra = segment.ra
    wanted = _ra_text(
        ra.managed,
        ra.other,
        [(str(ip_interface(a).network), ra.autonomous) for a in segment.addresses],
    )
    seen = heard_text(heard)
    if seen == wanted:
        return []
    return [f"{where} from {router}: {seen}; the estate declares {wanted}"]


def heard_text(heard: HeardRa | str) -> str:
    """What was heard of a segment's RA, for the batch's record."""
    if isinstance(heard, str):
        return heard
    return _ra_text(heard.managed, heard.other, list(heard.prefixes))


def _ra_text(managed: bool, other: bool, prefixes: list[tuple[str, bool]]) -> str:
    listed = ", ".join(f"{p} A={int(a)}" for p, a in sorted(set(prefixes))) or "none"
    return f"M={int(managed)} O={int(other)} prefixes {listed}"


def ipv4_only_findings(router: MigrationRouter, seen: RouterSeen) -> list[str]:
    """What a rolled-back router still has of IPv6, or IPv4 no longer answering."""
    planned = {a for s in router.segments for a in s.addresses}
    findings = [f"still has {a}" for a in sorted(planned & seen.addresses6)]
    findings += [f"still runs {p}" for p in seen.pieces]
    findings += [f"{i}: still sends Router Advertisements" for i in sorted(seen.ra)]
    if seen.ping4:
        findings.append(f"IPv4 ping {router.ip4}: {seen.ping4}")
    return findings


def lab_routers(lab: Any, estate: Estate) -> list[MigrationRouter]:
    """The lab's routers (a `lab.Lab`): FRR pathspaces on this machine."""
    plan = lab.plan
    zones = {s.bridge: s.zone for s in plan.segments if s.zone}
    routers = []
    for raw, router in zip(lab.router_targets(), plan.routers, strict=True):
        segments = []
        for iface in router.interfaces:
            if iface.kind not in ("lan", "zone"):
                continue
            mode = estate.node(router.node).ipv6_mode
            if iface.kind == "zone":
                mode = estate.zone(zones[iface.name]).ipv6_mode
            v6 = tuple(a for a in iface.addresses if ":" in a)
            if v6:
                segments.append(Segment6(iface.name, v6, ra_flags(mode)))
        lan = next(i for i in router.interfaces if i.kind == "lan")
        routers.append(
            MigrationRouter(
                router.node,
                router.level,
                raw["routing"],
                tuple(segments),
                tuple(u["interface"] for u in raw["uplinks"]),
                next(a for a in lan.addresses if ":" not in a),
                pathspace=raw["pathspace"],
                config=raw["config"],
                preamble=tuple(raw["preamble"]),
                connection=lab_connection(),
            )
        )
    return routers
