"""The estate as the other rooms see it: expanded, addressed, cross-checked.

Built once by `estate.build` from the validated spec; immutable afterwards.
Queries return lists in declaration order so every consumer (Pulumi program,
lab, poller) sees the same order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Literal

from estate.addressing import Allocation, ZoneLookup
from estate.isolation import IsolationRule
from estate.names import UnknownName, resolve_name
from estate.routing import Bfd
from estate.schema import City, Monitoring, Quotas, Sites, SnmpCredential
from estate.schema_extranet import AnsibleAccess
from estate.spec_types import Ipv6Mode, Level, Role

_FIRST_LINK_LOCAL = IPv6Address("fe80::1")
LEVELS: tuple[Level, ...] = ("city", "county", "township", "village")
ScopeKind = Literal["county", "township", "tenant", "zone", "system", "host"]
SCOPE_KINDS: tuple[ScopeKind, ...] = ("county", "township", "tenant", "zone")


@dataclass(frozen=True)
class Device:
    name: str
    node: str
    model: str
    vendor: str
    mgmt4: IPv4Address
    mgmt6: IPv6Address
    credential: str
    # What the device answers with on its node's LAN (empty: not declared) and
    # the link-local it sends Router Advertisements from.
    lan_macs: tuple[str, ...] = ()
    link_local: IPv6Address = _FIRST_LINK_LOCAL
    engine_id: bytes | None = None  # SNMPv3, when declared (traps)


@dataclass(frozen=True)
class ExtranetHost:
    """A server on a node's LAN (extranet.nodes[].hosts), its planned addresses."""

    name: str
    node: str
    address4: IPv4Address
    address6: IPv6Address


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    level: Level
    parent: str | None
    county: str | None
    township: str | None
    devices: tuple[Device, ...]
    lan4: IPv4Network
    lan6: IPv6Network
    # Addresses allowed to answer DHCP on the LAN; None: not declared (the
    # gateway relays), (): no DHCP on this LAN.
    dhcp_servers: tuple[IPv4Address | IPv6Address, ...] | None = None
    ipv6_mode: Ipv6Mode = "slaac"  # the LAN's Router Advertisements (estate.ipv6.ra_flags)
    hosts: tuple[ExtranetHost, ...] = ()

    @property
    def gateway4(self) -> IPv4Address:
        return self.devices[0].mgmt4

    @property
    def gateway6(self) -> IPv6Address:
        return self.devices[0].mgmt6


@dataclass(frozen=True)
class LinkEnd:
    device: str
    interface: str
    address4: IPv4Address
    address6: IPv6Address


@dataclass(frozen=True)
class Link:
    id: str
    child: str
    parent: str
    level: Level
    role: Role
    bandwidth_bps: int
    child_end: LinkEnd
    parent_end: LinkEnd
    net4: IPv4Network
    net6: IPv6Network
    county: str | None
    township: str | None
    # How it routes (extranet.dual_links, or the uplink's own): its OSPF cost,
    # the same at both ends, and its BFD timers (None: no BFD on it).
    cost: int = 10
    bfd: Bfd | None = None


@dataclass(frozen=True)
class LinkPair:
    """The primary/backup pair of a county or township (双链路)."""

    id: str
    node: str
    primary: Link
    backup: Link


@dataclass(frozen=True)
class Zone:
    name: str
    kind: Literal["cloud", "extranet", "internet"]
    description: str
    ipv6_mode: Ipv6Mode
    prefix4: IPv4Network | None
    prefix6: IPv6Network | None
    dhcp_servers: tuple[IPv4Address | IPv6Address, ...] | None = None  # as for Node


@dataclass(frozen=True)
class Sensor:
    """A packet sensor listening on `interface`, on `node`'s LAN."""

    name: str
    node: str
    interface: str


@dataclass(frozen=True)
class Host:
    name: str
    role: str
    flavor: str
    image: str
    volume_gb: int
    address4: IPv4Address
    address6: IPv6Address


@dataclass(frozen=True)
class SystemDr:
    """A system's DR placement: its standby/repository host in the DR centre
    (None: named on the command line) and the paths its backup covers."""

    standby: str | None = None
    backup_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class System:
    tenant: str
    code: str
    name: str
    zone: str
    mlps_level: Literal[2, 3]
    dr_class: str | None
    ipv6: Literal["ready", "dual-stack", "planned", "not-ready"]
    hosts: tuple[Host, ...]
    dr: SystemDr = SystemDr()

    @property
    def ref(self) -> str:
        """`tenant/code`: how verbs, events and lab hosts name a system."""
        return f"{self.tenant}/{self.code}"


@dataclass(frozen=True)
class Tenant:
    code: str
    name: str
    quotas: Quotas
    systems: tuple[System, ...]


@dataclass(frozen=True)
class DrClass:
    name: str
    rpo_s: float
    rto_s: float
    method: Literal["replication", "backup"]
    # Snapshots kept per period (last, daily, weekly, monthly, yearly); empty: all kept.
    retention: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class DrPlan:
    classes: dict[str, DrClass]
    drill_interval_s: float


@dataclass(frozen=True)
class Estate:
    file: str
    city: City
    sites: Sites
    zones: tuple[Zone, ...]
    isolation: tuple[IsolationRule, ...]
    tenants: tuple[Tenant, ...]
    monitoring: Monitoring
    dr: DrPlan
    owed: dict[str, int]
    _nodes: tuple[Node, ...]
    _links: tuple[Link, ...]
    _allocations: tuple[Allocation, ...]
    _zone_lookup: ZoneLookup
    sensors: tuple[Sensor, ...] = ()
    ansible: AnsibleAccess = field(
        default_factory=AnsibleAccess
    )  # how Ansible reaches the extranet

    # --- extranet ---------------------------------------------------------

    def nodes(self, level: Level | None = None, county: str | None = None) -> list[Node]:
        return [
            n
            for n in self._nodes
            if (level is None or n.level == level) and (county is None or n.county == county)
        ]

    def node(self, node_id: str) -> Node:
        for n in self._nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def sensor(self, name: str) -> Sensor:
        for s in self.sensors:
            if s.name == name:
                return s
        raise KeyError(name)

    def devices(self) -> list[Device]:
        return [d for n in self._nodes for d in n.devices]

    def device(self, name: str) -> Device:
        for d in self.devices():
            if d.name == name:
                return d
        raise KeyError(name)

    def links(
        self, level: Level | None = None, county: str | None = None, role: Role | None = None
    ) -> list[Link]:
        return [
            link
            for link in self._links
            if (level is None or link.level == level)
            and (county is None or link.county == county)
            and (role is None or link.role == role)
        ]

    def link_pairs(self, level: Level | None = None, county: str | None = None) -> list[LinkPair]:
        pairs: list[LinkPair] = []
        by_child: dict[str, dict[str, Link]] = {}
        for link in self.links(level=level, county=county):
            by_child.setdefault(link.child, {})[link.role] = link
        for child, roles in by_child.items():
            if "primary" in roles and "backup" in roles:
                pairs.append(LinkPair(child, child, roles["primary"], roles["backup"]))
        return pairs

    def owed_bandwidth(self, level: Level) -> int:
        return self.owed[level]

    # --- names people type -------------------------------------------------

    def resolve(self, text: str, kinds: Iterable[ScopeKind] = SCOPE_KINDS) -> tuple[ScopeKind, str]:
        """The scope a code or a display name stands for: `hl` and `华龙区` both give
        ("county", "hl"); a zone's description (`电子政务外网`) gives its name.
        A system is `tenant/code` (`gaj/jwzh`), or its bare code or display
        name when only one tenant has it; a host is its name (`jwzh-app-1`).

        Codes win over names, then `kinds` in order. An unknown text raises
        UnknownName listing the closest codes and names.
        """
        return resolve_name(self, text, tuple(kinds))

    # --- zones --------------------------------------------------------------

    def zone(self, name: str) -> Zone:
        for z in self.zones:
            if z.name == name:
                return z
        raise KeyError(name)

    def zone_of(self, address: str | bytes | IPv4Address | IPv6Address) -> str | None:
        return self._zone_lookup.zone_of(address)

    @property
    def zone_lookup(self) -> ZoneLookup:
        """The address -> zone map itself (a compiled sensor policy stores its table)."""
        return self._zone_lookup

    def allowed(self, src_zone: str, dst_zone: str, protocol: str, port: int | None = None) -> bool:
        """Whether the isolation matrix lets `src_zone` open this service in `dst_zone`.

        Traffic inside one zone is not the matrix's business; everything
        between zones that no rule opens is denied.
        """
        if src_zone == dst_zone:
            return True
        for rule in self.isolation:
            if rule.src in (src_zone, "*") and rule.dst in (dst_zone, "*"):
                if any(s.matches(protocol, port) for s in rule.services):
                    return True
        return False

    # --- tenants and systems ------------------------------------------------

    def tenant(self, code: str) -> Tenant:
        for t in self.tenants:
            if t.code == code:
                return t
        raise KeyError(code)

    def systems(
        self, tenant: str | None = None, zone: str | None = None, mlps_level: int | None = None
    ) -> list[System]:
        return [
            s
            for t in self.tenants
            for s in t.systems
            if (tenant is None or s.tenant == tenant)
            and (zone is None or s.zone == zone)
            and (mlps_level is None or s.mlps_level == mlps_level)
        ]

    def system(self, ref: str) -> System:
        """The system named `tenant/code`; KeyError if none."""
        for s in self.systems():
            if s.ref == ref:
                return s
        raise KeyError(ref)

    def replicated_systems(self) -> list[System]:
        return [s for s in self.systems() if s.dr_class is not None]

    def system_named(self, text: str) -> System | None:
        """TENANT/SYSTEM by code or by the names the screens show, in any mix:
        gaj/jwzh is 市公安局/警务综合平台."""
        tenant, _, system = text.partition("/")
        with contextlib.suppress(UnknownName):
            tenant = self.resolve(tenant, ("tenant",))[1]
        return next((s for s in self.systems(tenant) if system in (s.code, s.name)), None)

    # --- addresses and credentials ---------------------------------------------

    def prefixes(self, kind: str | None = None) -> list[Allocation]:
        return [a for a in self._allocations if kind is None or a.kind == kind]

    def tenant_prefix(self, tenant: str, zone: str) -> tuple[IPv4Network, IPv6Network]:
        for a in self._allocations:
            if a.kind == "tenant" and a.key == f"{tenant}/{zone}":
                return a.ipv4, a.ipv6
        raise KeyError(f"{tenant}/{zone}")

    def credential(self, name: str) -> SnmpCredential:
        return self.monitoring.credentials[name]
