"""The estate file's shape, as pydantic models (what the city writes in YAML).

These models only check shape and local rules; references between parts of
the file (a link's parent, a system's zone) are checked in `build.py`, and
the derived view other rooms use lives in `model.py`.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from estate.schema_extranet import Extranet
from estate.secrets import SecretRef
from estate.spec_types import Code, Duration, IpAddress, Ipv6Mode, PositiveInt, Spec


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
