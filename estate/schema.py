"""The estate file's shape, as pydantic models (what the city writes in YAML).

These models only check shape and local rules; references between parts of
the file (a link's parent, a system's zone) are checked in `build.py`, and
the derived view other rooms use lives in `model.py`.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from estate.secrets import SecretRef
from estate.units import parse_bandwidth, parse_duration, parse_mac

Level = Literal["city", "county", "township", "village"]
Role = Literal["primary", "backup"]
# How a segment's hosts get IPv6 addresses: what its Router Advertisements say.
Ipv6Mode = Literal["slaac", "dhcpv6-stateful", "dhcpv6-stateless"]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
Bandwidth = Annotated[int, BeforeValidator(parse_bandwidth)]
Duration = Annotated[float, BeforeValidator(parse_duration)]
PositiveInt = Annotated[int, Field(ge=0)]
Mac = Annotated[str, BeforeValidator(parse_mac)]


def _address(value: object) -> object:
    if isinstance(value, IPv4Address | IPv6Address):
        return value
    try:
        return ip_address(str(value))
    except ValueError:
        raise ValueError(f"expected an IPv4 or IPv6 address, found {value!r}") from None


IpAddress = Annotated[IPv4Address | IPv6Address, BeforeValidator(_address)]


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class City(Spec):
    name: str = Field(min_length=1)
    code: Code


class Site(Spec):
    name: str = Field(min_length=1)
    region: str = Field(min_length=1)


class Sites(Spec):
    main: Site
    dr: Site


# --- address plan -----------------------------------------------------------


class Split(Spec):
    """Bits each level of allocation takes below its parent: 4 means 16 slots."""

    zones: int = Field(4, ge=1, le=16)
    tenants: int = Field(6, ge=1, le=16)
    counties: int = Field(4, ge=1, le=16)
    townships: int = Field(5, ge=1, le=16)
    villages: int = Field(6, ge=1, le=16)


class PrefixOverride(Spec):
    ipv4: IPv4Network | None = None
    ipv6: IPv6Network | None = None


class AddressPlan(Spec):
    ipv4: IPv4Network
    ipv6: IPv6Network
    split: Split = Split()
    overrides: dict[str, PrefixOverride] = {}

    @model_validator(mode="after")
    def _sizes(self) -> AddressPlan:
        if self.ipv6.prefixlen > 48:
            raise ValueError(
                f"ipv6: expected a /48 or larger for the city, found /{self.ipv6.prefixlen}"
            )
        if self.ipv4.prefixlen > 16:
            raise ValueError(
                f"ipv4: expected a /16 or larger supernet, found /{self.ipv4.prefixlen}"
            )
        return self


# --- extranet ---------------------------------------------------------------


class DeviceSpec(Spec):
    """A router/switch of a node. `lan_macs` are the MACs it answers with on the
    node's LAN (its own, and a VRRP virtual MAC if it runs VRRP); `link_local`
    is the fe80:: address it sends Router Advertisements from (default: fe80::N
    for the node's Nth device)."""

    name: Code
    model: str = "generic"
    mgmt_ipv4: IPv4Address | None = None
    mgmt_ipv6: IPv6Address | None = None
    credential: str | None = None
    lan_macs: list[Mac] = []
    link_local: IPv6Address | None = None
    # Its SNMPv3 engine id (hex), when known: its traps are read from the
    # first one; otherwise the receiver learns it from an authentic trap.
    engine_id: str | None = Field(None, pattern=r"^(0x)?([0-9a-fA-F]{2}){5,32}$")


# OSPF's interface cost is 16 bits (RFC 2328 A.3.5 and RFC 5340 A.3.3).
OspfCost = Annotated[int, Field(strict=True, ge=1, le=65535)]


class BfdSpec(Spec):
    """BFD timers of a link: how often each end sends and expects a control
    packet, and how many missed packets declare the link down (RFC 5880).
    The bounds are FRR's: 10 ms to 60 s, multiplier 2 to 255."""

    interval_ms: int = Field(300, strict=True, ge=10, le=60000)
    multiplier: int = Field(3, strict=True, ge=2, le=255)


class DualLinksBfd(BfdSpec):
    """The estate's BFD: its timers, and the levels whose links run it (the
    levels that must fail over fast)."""

    levels: list[Literal["county", "township", "village"]] = ["county", "township"]


class DualLinks(Spec):
    """How the dual links route (主备双链路): OSPF cost per role, so traffic
    prefers the primary and takes the backup only when the primary is gone,
    and BFD so a dead link is noticed in a second rather than OSPF's 4 s."""

    primary_cost: OspfCost = 10
    backup_cost: OspfCost = 100
    bfd: DualLinksBfd = DualLinksBfd()

    @model_validator(mode="after")
    def _backup_dearer(self) -> DualLinks:
        if self.backup_cost <= self.primary_cost:
            raise ValueError(
                f"backup_cost: expected more than primary_cost ({self.primary_cost}) so "
                f"traffic prefers the primary, found {self.backup_cost}"
            )
        return self


class UplinkSpec(Spec):
    """One of a node's links to its parent; interfaces are ifNames. `cost` and
    `bfd` override extranet.dual_links for this link (a `bfd` here runs BFD
    on it whatever its level)."""

    role: Role
    interface: str = Field(min_length=1)
    parent_interface: str = Field(min_length=1)
    device: str | None = None
    parent_device: str | None = None
    bandwidth: Bandwidth | None = None
    cost: OspfCost | None = None
    bfd: BfdSpec | None = None


class VillageGroup(Spec):
    """Many single-homed villages under a township, declared in one block.

    `{n}` in interface templates is the village's number (1-based).
    """

    count: int = Field(ge=1, le=4096)
    names: list[str] = []
    model: str = "generic"
    interface: str = "GigabitEthernet0/0/1"
    parent_interface: str = "GigabitEthernet1/0/{n}"

    @model_validator(mode="after")
    def _names_fit(self) -> VillageGroup:
        if len(self.names) > self.count:
            raise ValueError(f"names: {len(self.names)} names for count {self.count}")
        return self


class ExtranetHostSpec(Spec):
    """A server on a node's LAN (a county's application server, a township's
    jump host): what the IPv6 migration gives its planned address, default
    route, sshd and firewall. `address6` defaults to the same host number in
    the LAN's IPv6 prefix as `address4` has in its IPv4 one."""

    name: Code
    address4: IPv4Address
    address6: IPv6Address | None = None


# A path Ansible is handed (its SSH key, its known_hosts), never read by yunwang:
# absolute, letters, digits and ._@+- only.
KeyPath = Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9._@+/-]{1,255}$")]


class AnsibleAccess(Spec):
    """How Ansible reaches the extranet's routers and hosts over SSH. Secrets
    stay where they are: the key by its path (or an ssh-agent), `become`
    through passwordless sudo; nothing secret is written in the estate."""

    user: str = Field("root", pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    port: int = Field(22, strict=True, ge=1, le=65535)
    private_key_file: KeyPath | None = None
    known_hosts_file: KeyPath | None = None
    become: bool = True


class NodeSpec(Spec):
    id: Code
    name: str = Field(min_length=1)
    level: Level
    parent: str | None = None
    devices: list[DeviceSpec] = []
    uplinks: list[UplinkSpec] = []
    villages: VillageGroup | None = None
    # Who may answer DHCP (v4 and v6) on this node's LAN: servers or relays, by
    # the address they answer from. Unset: the gateway relays; []: no DHCP here.
    dhcp_servers: list[IpAddress] | None = None
    # The flags of the Router Advertisements on this node's LAN (see estate.ipv6.ra_flags).
    ipv6_mode: Ipv6Mode = "slaac"
    # The servers on its LAN the IPv6 migration reaches.
    hosts: list[ExtranetHostSpec] = Field([], max_length=256)


def _default_owed() -> dict[Literal["county", "township", "village"], int]:
    # 千兆到县、百兆到乡镇: the plan's figures; villages are the estate's choice.
    return {"county": 1_000_000_000, "township": 100_000_000, "village": 20_000_000}


class Extranet(Spec):
    owed_bandwidth: dict[Literal["county", "township", "village"], Bandwidth] = Field(
        default_factory=_default_owed
    )
    dual_links: DualLinks = DualLinks()
    ansible: AnsibleAccess = AnsibleAccess()
    nodes: list[NodeSpec]


# --- zones and isolation ----------------------------------------------------


class ZoneSpec(Spec):
    name: Code
    kind: Literal["cloud", "extranet", "internet"] = "cloud"
    description: str = ""
    ipv6_mode: Ipv6Mode = "slaac"
    # As for nodes: who may answer DHCP in this zone and its tenants' prefixes.
    dhcp_servers: list[IpAddress] | None = None


class IsolationRuleSpec(Spec):
    """`from` may open `allow` (e.g. tcp/443, udp/161, tcp/8000-8100, icmp) to `to`."""

    src: str = Field(alias="from")
    dst: str = Field(alias="to")
    allow: list[str] = Field(min_length=1)
    reason: str = ""


# --- tenants ----------------------------------------------------------------


class ComputeQuota(Spec):
    instances: PositiveInt = 20
    cores: PositiveInt = 80
    ram_mb: PositiveInt = 163_840
    key_pairs: PositiveInt = 20
    server_groups: PositiveInt = 10
    server_group_members: PositiveInt = 10
    metadata_items: PositiveInt = 128


class NetworkQuota(Spec):
    networks: PositiveInt = 10
    subnets: PositiveInt = 20
    ports: PositiveInt = 200
    routers: PositiveInt = 2
    floating_ips: PositiveInt = 4
    security_groups: PositiveInt = 20
    security_group_rules: PositiveInt = 400
    rbac_policies: PositiveInt = 20


class StorageQuota(Spec):
    volumes: PositiveInt = 50
    gigabytes: PositiveInt = 5_000
    snapshots: PositiveInt = 50
    per_volume_gigabytes: PositiveInt = 2_000
    backups: PositiveInt = 50
    backup_gigabytes: PositiveInt = 10_000
    groups: PositiveInt = 10


class Quotas(Spec):
    compute: ComputeQuota = ComputeQuota()
    network: NetworkQuota = NetworkQuota()
    storage: StorageQuota = StorageQuota()


class HostSpec(Spec):
    name: Code
    count: int = Field(1, ge=1, le=256)
    role: str = "app"
    flavor: str = "m1.medium"
    image: str = "debian-12"
    volume_gb: int = Field(50, ge=1)


MAX_BACKUP_PATHS = 64
_BACKUP_PATH = re.compile(r"^/[A-Za-z0-9._@+/-]{0,255}$")


def _backup_path(value: object) -> object:
    # The paths reach restic and find on the primary through ssh: plain
    # absolute paths only, so no word in them is ever read by a shell.
    text = str(value) if isinstance(value, str) else None
    if text is None or not _BACKUP_PATH.match(text) or ".." in text.split("/") or text == "/":
        raise ValueError(
            "expected an absolute path below / of letters, digits and ._@+- "
            f"without '..' (e.g. /etc/postgresql), found {value!r}"
        )
    return text


BackupPath = Annotated[str, BeforeValidator(_backup_path)]


class SystemDrSpec(Spec):
    """Where a system's DR lives: the DR-centre host that stands by for it
    (replication standby, backup repository) and the paths its backup covers
    besides the database dump."""

    standby: Code | None = None
    backup_paths: list[BackupPath] = Field([], max_length=MAX_BACKUP_PATHS)

    @model_validator(mode="after")
    def _distinct(self) -> SystemDrSpec:
        seen: set[str] = set()
        for path in self.backup_paths:
            if path in seen:
                raise ValueError(f"backup_paths: {path} is listed twice")
            seen.add(path)
        return self


class SystemSpec(Spec):
    code: Code
    name: str = Field(min_length=1)
    zone: str
    mlps_level: Literal[2, 3]
    dr_class: str | None = None
    ipv6: Literal["ready", "dual-stack", "planned", "not-ready"] = "planned"
    hosts: list[HostSpec] = []
    dr: SystemDrSpec | None = None


class TenantSpec(Spec):
    code: Code
    name: str = Field(min_length=1)
    quotas: Quotas = Quotas()
    systems: list[SystemSpec] = []


# --- monitoring and DR ------------------------------------------------------


class SnmpCredential(Spec):
    version: Literal[2, 3] = 3
    user: str | None = None
    auth_protocol: Literal["sha", "sha224", "sha256", "sha384", "sha512"] = "sha256"
    auth_key: SecretRef | None = None
    priv_protocol: Literal["aes128", "aes192", "aes256"] = "aes128"
    priv_key: SecretRef | None = None
    community: SecretRef | None = None

    @model_validator(mode="after")
    def _complete(self) -> SnmpCredential:
        if self.version == 3:
            missing = [k for k in ("user", "auth_key", "priv_key") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"SNMPv3 is used authPriv only: missing {', '.join(missing)}")
            if self.community is not None:
                raise ValueError("a v3 credential takes no community")
        elif self.community is None:
            raise ValueError("a v2c credential needs community: {env: NAME} or {file: PATH}")
        return self


class SensorSpec(Spec):
    """A packet sensor: which node's LAN it listens on, through which interface."""

    name: Code
    node: str = Field(min_length=1)
    interface: str = Field(min_length=1)


class TrapsSpec(Spec):
    """Where the trap/inform receiver listens (`--traps`), and optionally
    its SNMPv3 engine id (hex) when devices are configured with one."""

    listen: IpAddress = ip_address("127.0.0.1")
    port: int = Field(162, ge=1, le=65535)
    engine_id: str | None = Field(None, pattern=r"^(0x)?([0-9a-fA-F]{2}){5,32}$")


class Monitoring(Spec):
    poll_interval_s: Duration = Field(60.0, alias="poll_interval")
    timeout_s: Duration = Field(2.0, alias="timeout")
    retries: int = Field(2, ge=0, le=10)
    allow_v2c: bool = False
    default_credential: str | None = None
    credentials: dict[str, SnmpCredential] = {}
    sensors: list[SensorSpec] = []
    traps: TrapsSpec = TrapsSpec()


class RetentionSpec(Spec):
    """How many backup snapshots a class keeps (restic forget --keep-*)."""

    last: int = Field(0, ge=0, le=10000)
    daily: int = Field(0, ge=0, le=10000)
    weekly: int = Field(0, ge=0, le=10000)
    monthly: int = Field(0, ge=0, le=10000)
    yearly: int = Field(0, ge=0, le=10000)


class DrClassSpec(Spec):
    rpo_s: Duration = Field(alias="rpo")
    rto_s: Duration = Field(alias="rto")
    method: Literal["replication", "backup"] = "replication"
    retention: RetentionSpec | None = None  # None: every snapshot is kept


class Dr(Spec):
    classes: dict[Code, DrClassSpec] = {}
    drill_interval_s: Duration = Field(90 * 86400.0, alias="drill_interval")


class EstateSpec(Spec):
    city: City
    sites: Sites
    address_plan: AddressPlan
    extranet: Extranet
    zones: list[ZoneSpec] = Field(min_length=1)
    isolation: list[IsolationRuleSpec] = []
    tenants: list[TenantSpec] = []
    monitoring: Monitoring = Monitoring()
    dr: Dr = Dr()
