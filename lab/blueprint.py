"""What the lab builds, computed from the estate: routers, cables, segments, hosts.

Pure data (no root, no processes): `plan_slice()` is unit-tested on its own,
and the plan is stored in the lab directory so `status`, the chaos verbs and
`down` never need the estate file again.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from estate import Estate, Link, Node
from lab.addressing import INTERNET4, INTERNET6, NMS4, NMS6, AddressMap
from lab.errors import LabError
from lab.placement import (
    Slice,
    Slot,
    host_slots,
    plan_space,
    select_nodes,
    used_networks,
    zone_gateways_of,
)

MAX_IFNAME = 15


@dataclass
class Interface:
    name: str  # Linux ifname (<= 15 chars)
    alias: str  # the estate's device and interface, shown as ifAlias
    addresses: list[str]  # "addr/len", lab space
    kind: str  # link | lan | zone | nms
    link: str | None = None  # estate link id
    cost: int | None = None  # OSPF cost; None = passive (stub network)
    role: str | None = None  # primary | backup, for link interfaces


@dataclass
class Router:
    node: str
    name: str
    level: str
    namespace: str
    router_id: str
    devices: list[str]
    mgmt4: list[str]  # lab addresses the node's devices answer SNMP on
    mgmt6: list[str]
    credential: str
    interfaces: list[Interface] = field(default_factory=list)


@dataclass
class Cable:
    """One veth pair standing in for one estate link."""

    link: str
    role: str
    level: str
    bandwidth_bps: int
    child: str
    parent: str
    child_ns: str
    child_if: str
    parent_ns: str
    parent_if: str
    bfd: bool
    # The estate's BFD timers for this link (the lab's --bfd-ms may replace the interval).
    bfd_interval_ms: int = 300
    bfd_multiplier: int = 3


@dataclass
class Segment:
    name: str  # "zone:gov-extranet", "lan:hl-zyl"
    router: str  # node id of the router holding the bridge
    bridge: str
    zone: str | None


@dataclass
class HostPlan:
    name: str
    namespace: str
    segment: str
    router: str
    port: str  # the router-side veth end (enslaved to the segment's bridge)
    address4: str  # addr/len
    address6: str
    gateway4: str
    gateway6: str
    zone: str | None
    system: str | None  # "tenant/system" for estate hosts


@dataclass
class LabPlan:
    tag: str
    estate: str
    slice: dict[str, int]
    addresses: dict[str, Any]
    routers: list[Router]
    cables: list[Cable]
    segments: list[Segment]
    hosts: list[HostPlan]
    nms_namespace: str
    nms_address4: str
    nms_address6: str
    bfd_ms: int | None = 100  # every BFD link's interval; None: the estate's timers
    hosts_ipv6: bool = True  # False: hosts start IPv4-only (IPv6 migration rehearsal)
    routing: bool = True  # False: routers start with addresses only (dual-link rollout rehearsal)
    # False: routers start IPv4-only (no IPv6 on LANs and zones, no OSPFv3):
    # the IPv6 migration gives them both.
    routers_ipv6: bool = True

    def router(self, node: str) -> Router:
        for r in self.routers:
            if r.node == node:
                return r
        raise LabError(f"no router {node!r} in this lab (nodes: {', '.join(self.node_ids())})")

    def node_ids(self) -> list[str]:
        return [r.node for r in self.routers]

    def cable(self, link: str) -> Cable:
        for c in self.cables:
            if c.link == link:
                return c
        known = ", ".join(c.link for c in self.cables)
        raise LabError(f"no link {link!r} in this lab (links: {known})")

    def host(self, name: str) -> HostPlan:
        for h in self.hosts:
            if h.name == name:
                return h
        raise LabError(f"no host {name!r} in this lab")

    def namespace_of(self, name: str) -> str:
        """A router node id, a host name or 'nms'."""
        if name == "nms":
            return self.nms_namespace
        for r in self.routers:
            if r.node == name:
                return r.namespace
        for h in self.hosts:
            if h.name == name:
                return h.namespace
        raise LabError(f"no node or host {name!r} in this lab")

    def namespaces(self) -> list[str]:
        return (
            [r.namespace for r in self.routers]
            + [h.namespace for h in self.hosts]
            + [self.nms_namespace]
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LabPlan:
        routers = [
            Router(**{**r, "interfaces": [Interface(**i) for i in r["interfaces"]]})
            for r in raw["routers"]
        ]
        return cls(
            **{
                **raw,
                "routers": routers,
                "cables": [Cable(**c) for c in raw["cables"]],
                "segments": [Segment(**s) for s in raw["segments"]],
                "hosts": [HostPlan(**h) for h in raw["hosts"]],
            }
        )


def namespace_name(tag: str, item: str) -> str:
    return f"ywlab-{tag}-{re.sub(r'[^A-Za-z0-9_.-]', '-', item)}"


def plan_slice(estate: Estate, cut: Slice, tag: str) -> LabPlan:
    nodes = select_nodes(estate, cut)
    ids = {n.id for n in nodes}
    links = [lk for lk in estate.links() if lk.child in ids and lk.parent in ids]
    slots = host_slots(estate, nodes, cut.hosts)
    amap = AddressMap.build(
        plan_space(estate, 4),
        plan_space(estate, 6),
        used_networks(estate, nodes, links, slots),
    )

    routers = {n.id: _router(estate, n, tag, amap) for n in nodes}
    cables = _cables(links, routers, amap)
    segments, hosts = _segments_and_hosts(estate, nodes, routers, slots, tag, amap)
    city = routers[nodes[0].id]
    city.interfaces.append(
        Interface(
            "nms",
            "lab NMS (collectors run here)",
            [f"{NMS4[1]}/{NMS4.prefixlen}", f"{NMS6[1]}/{NMS6.prefixlen}"],
            "nms",
        )
    )
    return LabPlan(
        tag=tag,
        estate=estate.file,
        slice=asdict(cut),
        addresses=amap.to_dict(),
        routers=list(routers.values()),
        cables=cables,
        segments=segments,
        hosts=hosts,
        nms_namespace=namespace_name(tag, "nms"),
        nms_address4=f"{NMS4[2]}/{NMS4.prefixlen}",
        nms_address6=f"{NMS6[2]}/{NMS6.prefixlen}",
    )


# --- routers, cables, segments -------------------------------------------------


def _router(estate: Estate, node: Node, tag: str, amap: AddressMap) -> Router:
    mgmt4 = [str(amap.lab_address(d.mgmt4)) for d in node.devices]
    mgmt6 = [str(amap.lab_address(d.mgmt6)) for d in node.devices]
    lan = Interface(
        "lan",
        f"{node.id} LAN",
        [f"{m}/{node.lan4.prefixlen}" for m in mgmt4]
        + [f"{m}/{node.lan6.prefixlen}" for m in mgmt6],
        "lan",
    )
    return Router(
        node=node.id,
        name=node.name,
        level=node.level,
        namespace=namespace_name(tag, node.id),
        router_id=mgmt4[0],
        devices=[d.name for d in node.devices],
        mgmt4=mgmt4,
        mgmt6=mgmt6,
        credential=node.devices[0].credential,
        interfaces=[lan],
    )


def _cables(links: list[Link], routers: dict[str, Router], amap: AddressMap) -> list[Cable]:
    cables = []
    down_index: dict[str, dict[str, int]] = {}
    for lk in links:
        child, parent = routers[lk.child], routers[lk.parent]
        role = lk.role[0]  # p | b
        child_if = f"up-{role}"
        children = down_index.setdefault(lk.parent, {})
        index = children.setdefault(lk.child, len(children))
        parent_if = f"d{index}-{role}"
        for r, ifname, end, peer in (
            (child, child_if, lk.child_end, lk.parent),
            (parent, parent_if, lk.parent_end, lk.child),
        ):
            if len(ifname) > MAX_IFNAME:
                raise LabError(f"interface name {ifname} too long")
            r.interfaces.append(
                Interface(
                    ifname,
                    f"{end.device} {end.interface} ({lk.role} to {peer})"[:64],
                    [
                        amap.lab_interface(end.address4, lk.net4),
                        amap.lab_interface(end.address6, lk.net6),
                    ],
                    "link",
                    link=lk.id,
                    cost=lk.cost,
                    role=lk.role,
                )
            )
        cables.append(
            Cable(
                lk.id,
                lk.role,
                lk.level,
                lk.bandwidth_bps,
                lk.child,
                lk.parent,
                child.namespace,
                child_if,
                parent.namespace,
                parent_if,
                bfd=lk.bfd is not None,
                **(
                    {"bfd_interval_ms": lk.bfd.interval_ms, "bfd_multiplier": lk.bfd.multiplier}
                    if lk.bfd
                    else {}
                ),
            )
        )
    return cables


def _segments_and_hosts(
    estate: Estate,
    nodes: list[Node],
    routers: dict[str, Router],
    slots: list[Slot],
    tag: str,
    amap: AddressMap,
) -> tuple[list[Segment], list[HostPlan]]:
    city = routers[nodes[0].id]
    segments = [Segment(f"lan:{n.id}", n.id, "lan", None) for n in nodes]
    # Every zone is its own segment on the city router: cross-zone traffic is routed.
    for i, zone in enumerate(estate.zones):
        bridge = f"z-{zone.name}"[:MAX_IFNAME] if len(f"z-{zone.name}") <= MAX_IFNAME else f"z{i}"
        segments.append(Segment(f"zone:{zone.name}", city.node, bridge, zone.name))
        if zone.kind == "internet":
            addrs = [
                f"{INTERNET4[1]}/{INTERNET4.prefixlen}",
                f"{INTERNET6[1]}/{INTERNET6.prefixlen}",
            ]
        else:
            addrs = []
            for net4, net6 in zone_gateways_of(estate, zone.name):
                addrs.append(f"{amap.lab_address(net4[1])}/{net4.prefixlen}")
                addrs.append(f"{amap.lab_address(net6[1])}/{net6.prefixlen}")
        city.interfaces.append(Interface(bridge, f"zone {zone.name}", addrs, "zone"))
    hosts = []
    ports: dict[str, int] = {}
    for slot in slots:
        segment = next(s for s in segments if s.name == slot.segment)
        router = routers[segment.router]
        port = f"h{ports.setdefault(router.node, 0)}"
        ports[router.node] += 1
        internet = slot.zone is not None and estate.zone(slot.zone).kind == "internet"
        lab4 = slot.address4 if internet else amap.lab_address(slot.address4)
        lab6 = slot.address6 if internet else amap.lab_address(slot.address6)
        gw4 = slot.net4[1] if internet else amap.lab_address(slot.net4[1])
        gw6 = slot.net6[1] if internet else amap.lab_address(slot.net6[1])
        hosts.append(
            HostPlan(
                name=slot.name,
                namespace=namespace_name(tag, f"h-{slot.name}"),
                segment=slot.segment,
                router=router.node,
                port=port,
                address4=f"{lab4}/{slot.net4.prefixlen}",
                address6=f"{lab6}/{slot.net6.prefixlen}",
                gateway4=str(gw4),
                gateway6=str(gw6),
                zone=slot.zone,
                system=slot.system,
            )
        )
    return segments, hosts
