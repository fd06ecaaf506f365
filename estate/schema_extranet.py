"""The estate file's extranet (电子政务外网): nodes from the city down, their
devices and dual links, the hosts on their LANs, and how Ansible reaches them."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from estate.spec_types import Bandwidth, Code, IpAddress, Ipv6Mode, Level, Mac, Role, Spec


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
    # Checked here, not only when the villages are generated, so a mistake
    # points at the name or template the user wrote.
    names: list[Annotated[str, Field(min_length=1)]] = []
    model: str = "generic"
    interface: str = Field("GigabitEthernet0/0/1", min_length=1)
    parent_interface: str = Field("GigabitEthernet1/0/{n}", min_length=1)

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
