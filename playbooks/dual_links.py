"""The routers a dual-link rollout reaches, their inventory, and its batches.

A router target carries everything the `dual_links` role and the rollout's
verification need: its routing as the estate derives it (estate.routing),
where FRR keeps its configuration, its parent and its uplinks. Targets come
from the estate (the city's FRR routers, over SSH) or from the lab (`lab.Lab`,
FRR pathspaces on this machine, reached with a local connection).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from estate.routing import Bfd, router_routing
from playbooks.migration_routers import PIECES, MigrationRouter
from playbooks.runner import lab_connection

if TYPE_CHECKING:
    # Typing only: the role's filter plugin imports this module inside every
    # ansible-playbook run, which needs neither the estate's model nor pydantic.
    from estate import Estate

# The levels with primary/backup dual links, from the city down (villages
# hang off a single link and are not part of this rollout).
LEVELS = ("city", "county", "township")
DEFAULT_BATCH = 4
# What the rollout's verification reads from every router (vtysh JSON), judged
# by playbooks/routing_check.py: adjacencies, BFD sessions with their timers,
# and the cost each OSPF interface runs. The route towards the parent follows.
OSPF4 = "show ip ospf neighbor json"
OSPF6 = "show ipv6 ospf6 neighbor json"
BFD = "show bfd peers json"
OSPF4_INTERFACES = "show ip ospf interface json"
OSPF6_INTERFACES = "show ipv6 ospf6 interface json"
OBSERVE = (OSPF4, OSPF6, BFD, OSPF4_INTERFACES, OSPF6_INTERFACES)
OBSERVE4 = (OSPF4, BFD, OSPF4_INTERFACES)  # an IPv4-only router runs no ospf6d state


def observe(ospf6: bool) -> tuple[str, ...]:
    """What the verification reads from a router that runs (or not) OSPFv3."""
    return OBSERVE if ospf6 else OBSERVE4


class RolloutError(Exception):
    """A --level or --limit the user got wrong, or a lab not up; str() is one line."""


@dataclass(frozen=True)
class Uplink:
    link: str
    role: str  # primary | backup
    interface: str
    bfd: bool


@dataclass(frozen=True)
class RouterTarget:
    node: str
    level: str
    parent: str | None
    routing: dict[str, Any]  # estate.routing.RouterRouting.to_dict()
    uplinks: tuple[Uplink, ...] = ()
    config: str = "/etc/frr/frr.conf"
    pathspace: str = ""
    preamble: tuple[str, ...] = ("log syslog informational",)
    connection: dict[str, Any] = field(default_factory=dict)
    # What the IPv6 migration gave the router: {"segments": [Segment6 dicts],
    # "pieces": [...]}; empty when it is not migrated.
    ipv6: dict[str, Any] = field(default_factory=dict)

    @property
    def router_id(self) -> str:
        return str(self.routing["router_id"])

    @property
    def ospf6(self) -> bool:
        """Does the router run OSPFv3 (declared dual-stack, or migrated)?"""
        return bool(self.routing.get("ospf6", True))


def with_migration(
    targets: Sequence[RouterTarget],
    routers: Sequence[MigrationRouter],
    migrated: Collection[str],
) -> list[RouterTarget]:
    """The targets, each router the IPv6 migration's record names as migrated
    carrying what the migration gave it: its rollout renders and verifies it
    dual-stack (its prefixes, RA and OSPFv3 stay; OSPFv3 must be Full)."""
    by_name = {r.name: r for r in routers}
    out = []
    for t in targets:
        router = by_name.get(t.node)
        if t.node not in migrated or router is None:
            out.append(t)
            continue
        ipv6 = {"segments": [s.to_dict() for s in router.segments], "pieces": list(PIECES)}
        out.append(replace(t, routing={**t.routing, "ospf6": True}, ipv6=ipv6))
    return out


def estate_targets(estate: Estate, bfd: Bfd | None = None) -> list[RouterTarget]:
    """The estate's routers of the dual-link levels, reached over SSH at their
    first device's management address; IPv4-only until the IPv6 migration
    makes them dual-stack (`with_migration`)."""
    # Here: the role's filter plugin imports this module and needs none of it.
    from playbooks.migration_estate import PREAMBLE, access_vars

    access = access_vars(estate.ansible)
    targets = []
    for level in LEVELS:
        for node in estate.nodes(level=level):  # type: ignore[arg-type]
            uplinks = [lk for lk in estate.links() if lk.child == node.id]
            targets.append(
                RouterTarget(
                    node.id,
                    node.level,
                    uplinks[0].parent if uplinks else None,
                    router_routing(estate, node.id, bfd).to_dict() | {"ospf6": False},
                    tuple(
                        Uplink(lk.id, lk.role, lk.child_end.interface, lk.bfd is not None)
                        for lk in uplinks
                    ),
                    preamble=PREAMBLE,
                    connection={"ansible_host": str(node.gateway4), **access},
                )
            )
    return targets


def lab_targets(lab: Any) -> list[RouterTarget]:
    """The lab's routers (a `lab.Lab`): FRR pathspaces on this machine."""
    targets = []
    for raw in lab.router_targets():
        if raw["level"] not in LEVELS:
            continue
        targets.append(
            RouterTarget(
                raw["node"],
                raw["level"],
                raw["parent"],
                raw["routing"],
                tuple(Uplink(**u) for u in raw["uplinks"]),
                config=raw["config"],
                pathspace=raw["pathspace"],
                preamble=tuple(raw["preamble"]),
                connection=lab_connection(),
            )
        )
    return targets


def inventory(targets: list[RouterTarget]) -> dict[str, Any]:
    by_node = {t.node: t for t in targets}
    hosts = {}
    for t in targets:
        commands = list(observe(t.ospf6))
        parent = by_node.get(t.parent or "")
        if parent is not None:
            # The route towards the parent's router id: which uplink carries it.
            commands.append(f"show ip route {parent.router_id} json")
        hosts[t.node] = {
            **t.connection,
            "dual_links_routing": t.routing,
            "dual_links_hostname": t.node,
            "dual_links_preamble": list(t.preamble),
            "dual_links_pathspace": t.pathspace,
            "dual_links_config": t.config,
            "dual_links_observe": commands,
            "dual_links_uplinks": [asdict(u) for u in t.uplinks],
            "dual_links_ipv6": t.ipv6,
        }
    return {"all": {"hosts": hosts}}


def batches(
    targets: list[RouterTarget],
    *,
    level: str | None = None,
    limit: list[str] | None = None,
    size: int = DEFAULT_BATCH,
) -> list[list[RouterTarget]]:
    """Level by level from the city down, each level in batches of `size`."""
    if level is not None and level not in LEVELS:
        raise RolloutError(f"--level {level}: expected one of {', '.join(LEVELS)}")
    if not 1 <= size <= 100:
        raise RolloutError(f"--batch {size}: expected 1 to 100 routers per batch")
    known = {t.node for t in targets}
    for name in limit or []:
        if name not in known:
            sample = ", ".join(sorted(known)[:8])
            raise RolloutError(f"--limit {name}: no router of that id (routers: {sample}, ...)")
    chosen = [
        t for t in targets if (level is None or t.level == level) and (not limit or t.node in limit)
    ]
    out: list[list[RouterTarget]] = []
    for lvl in LEVELS:
        at_level = [t for t in chosen if t.level == lvl]
        out += [at_level[i : i + size] for i in range(0, len(at_level), size)]
    return out
