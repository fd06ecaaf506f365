"""What every invariant shares: resource types, the check signature and an index of the plan.

Each check reads only the plan (resource types and inputs, as the engine
would receive them) and the estate, never the program's own bookkeeping: a
check that asked the generator what it meant to do would prove nothing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_network
from typing import Any

from estate import Estate
from infra.planning import Plan, Planned
from infra.security_groups import Network, zone_address_sets

SEC_GROUP = "openstack:networking/secGroup:SecGroup"
SEC_RULE = "openstack:networking/secGroupRule:SecGroupRule"
ADDRESS_GROUP = "openstack:networking/addressGroupV2:AddressGroupV2"
PORT = "openstack:networking/port:Port"
NETWORK = "openstack:networking/network:Network"
SUBNET = "openstack:networking/subnet:Subnet"
QOS_POLICY = "openstack:networking/qosPolicy:QosPolicy"
QOS_LIMIT = "openstack:networking/qosBandwidthLimitRule:QosBandwidthLimitRule"
PROJECT = "openstack:identity/project:Project"
ROLE = "openstack:identity/role:Role"
ROLE_ASSIGNMENT = "openstack:identity/roleAssignment:RoleAssignment"
COMPUTE_QUOTA = "openstack:compute/quotaSetV2:QuotaSetV2"
NETWORK_QUOTA = "openstack:networking/quotaV2:QuotaV2"
STORAGE_QUOTA = "openstack:blockstorage/quoteSetV3:QuoteSetV3"
PROVIDER = "pulumi:providers:openstack"

ADMIN_DUTY_ROLES = ("yunwang-system-admin", "yunwang-security-admin", "yunwang-audit-admin")
# Every field each quota resource takes: the provider zeroes those left out.
QUOTA_FIELDS: dict[str, tuple[str, ...]] = {
    COMPUTE_QUOTA: (
        "cores",
        "fixedIps",
        "floatingIps",
        "injectedFileContentBytes",
        "injectedFilePathBytes",
        "injectedFiles",
        "instances",
        "keyPairs",
        "metadataItems",
        "ram",
        "securityGroupRules",
        "securityGroups",
        "serverGroupMembers",
        "serverGroups",
    ),
    NETWORK_QUOTA: (
        "floatingip",
        "network",
        "port",
        "rbacPolicy",
        "router",
        "securityGroup",
        "securityGroupRule",
        "subnet",
        "subnetpool",
    ),
    STORAGE_QUOTA: (
        "backupGigabytes",
        "backups",
        "gigabytes",
        "groups",
        "perVolumeGigabytes",
        "snapshots",
        "volumeTypeQuota",
        "volumes",
    ),
}
SECRET_KEY = re.compile(r"(password|passwd|secret|token|adminpass|privatekey)", re.I)
ESTATE_PROTOCOL = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "ipv6-icmp": "icmpv6"}


@dataclass(frozen=True)
class CheckResult:
    name: str
    title: str
    checked: int
    findings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.findings


Check = Callable[["Index", Mapping[str, Any]], tuple[int, list[str]]]


class Index:
    """The plan by id and by type, with the zone of every address."""

    def __init__(self, plan: Plan, estate: Estate) -> None:
        self.plan = plan
        self.estate = estate
        self.by_id = plan.by_id()
        self.by_type: dict[str, list[Planned]] = defaultdict(list)
        for r in plan.resources:
            self.by_type[r.type].append(r)
        self.zone_sets = zone_address_sets(estate)

    def of(self, typ: str) -> list[Planned]:
        return self.by_type.get(typ, [])

    def ref(self, value: Any) -> Planned | None:
        return self.by_id.get(value) if isinstance(value, str) else None

    def zones_of(self, prefixes: Iterable[str]) -> set[str]:
        """Every zone an address list reaches (a prefix may straddle several)."""
        nets: list[Network] = [ip_network(p, strict=False) for p in prefixes]
        return {
            zone
            for zone, owned in self.zone_sets.items()
            for net in nets
            if any(net.version == o.version and net.overlaps(o) for o in owned)
        }

    def subnets_of(self, network: Planned) -> list[Planned]:
        return [s for s in self.of(SUBNET) if s.inputs.get("networkId") == network.id]

    def port_zones(self, port: Planned) -> set[str]:
        cidrs = []
        for fixed in port.inputs.get("fixedIps") or []:
            subnet = self.ref(fixed.get("subnetId"))
            if subnet is not None and subnet.inputs.get("cidr"):
                cidrs.append(subnet.inputs["cidr"])
        return {z for z in self.zones_of(cidrs)}
