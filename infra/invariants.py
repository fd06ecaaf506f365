"""Named checks over the planned resources, run before anything is applied.

Each check reads only the plan (resource types and inputs, as the engine
would receive them) and the estate, never the program's own bookkeeping: a
check that asked the generator what it meant to do would prove nothing.
The same functions run under `yunwang plan` and inside the PolicyPack.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_network
from typing import Any

from estate import Estate
from infra.planning import SECRET, Plan, Planned
from infra.rules import Network, guarded_zones, zone_address_sets

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
INVARIANTS: dict[str, tuple[str, Check]] = {}


def invariant(name: str, title: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        INVARIANTS[name] = (title, fn)
        return fn

    return register


def check_all(
    plan: Plan, estate: Estate, stack_config: Mapping[str, Any] | None = None
) -> list[CheckResult]:
    idx = Index(plan, estate)
    results = []
    for name, (title, fn) in INVARIANTS.items():
        checked, findings = fn(idx, stack_config or {})
        results.append(CheckResult(name, title, checked, findings))
    return results


# --- helpers -------------------------------------------------------------------


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


def _rule_remote_zones(rule: Planned, idx: Index) -> set[str]:
    i = rule.inputs
    if i.get("remoteAddressGroupId"):
        group = idx.ref(i["remoteAddressGroupId"])
        return idx.zones_of(group.inputs.get("addresses") or []) if group else set()
    if i.get("remoteIpPrefix"):
        return idx.zones_of([i["remoteIpPrefix"]])
    if i.get("remoteGroupId"):
        group = idx.ref(i["remoteGroupId"])
        return _group_zones(group, idx) if group else set()
    return set(idx.zone_sets)  # no remote: everything, the internet included


def _group_zones(group: Planned, idx: Index) -> set[str]:
    """Where a security group is applied: its zone by name, and the zones of its ports."""
    zones = set()
    name = group.inputs.get("name", "")
    if name.startswith("zone-") and name[5:] in idx.zone_sets:
        zones.add(name[5:])
    for port in idx.of(PORT):
        if group.id in (port.inputs.get("securityGroupIds") or []):
            zones |= idx.port_zones(port)
    return zones


def _estate_protocol(rule: Planned) -> str:
    protocol = rule.inputs.get("protocol")
    if not protocol:
        return "any"
    if protocol == "icmp" and rule.inputs.get("ethertype") == "IPv6":
        return "icmpv6"
    return ESTATE_PROTOCOL.get(str(protocol), str(protocol))


# --- the invariants ------------------------------------------------------------


@invariant("isolation-matrix", "security groups implement the isolation matrix, both ways")
def isolation_matrix(idx: Index, _: Mapping[str, Any]) -> tuple[int, list[str]]:
    estate = idx.estate
    findings: list[str] = []
    groups = {g.id: g for g in idx.of(SEC_GROUP)}
    group_zones = {gid: _group_zones(g, idx) for gid, g in groups.items()}
    for g in groups.values():
        if g.inputs.get("deleteDefaultRules") is not True:
            findings.append(f"{g.name}: default rules kept (egress to anywhere stays open)")
    # 1. no rule opens a flow the matrix does not allow
    realised: dict[tuple[str, str, str, str], list[tuple[int | None, int | None]]] = defaultdict(
        list
    )
    for rule in idx.of(SEC_RULE):
        i = rule.inputs
        here = group_zones.get(i.get("securityGroupId", ""), set())
        if not here:
            findings.append(f"{rule.name}: belongs to no known security group")
            continue
        remote = _rule_remote_zones(rule, idx)
        protocol = _estate_protocol(rule)
        low, high = i.get("portRangeMin"), i.get("portRangeMax")
        family = str(i.get("ethertype"))
        for zone in here:
            for other in remote:
                src, dst = (other, zone) if i.get("direction") == "ingress" else (zone, other)
                realised[(i.get("direction", ""), src, dst, f"{protocol}/{family}")].append(
                    (low, high)
                )
                if src == dst:
                    continue
                bad = _first_disallowed(estate, src, dst, protocol, low, high)
                if bad is not None:
                    findings.append(
                        f"{rule.name}: opens {bad} from {src} to {dst}, which the matrix does not allow"
                    )
    # 2. every flow the matrix allows is present, on both sides
    guarded = set(guarded_zones(estate))
    for m in estate.isolation:
        for src in _expand(estate, m.src, m.dst):
            for dst in _expand(estate, m.dst, src):
                if src == dst:
                    continue
                for service in m.services:
                    for protocol, family in _families(service.protocol):
                        want = (service.port_min, service.port_max or service.port_min)
                        sides = []
                        if dst in guarded:
                            sides.append("ingress")
                        if src in guarded:
                            sides.append("egress")
                        for direction in sides:
                            have = realised.get((direction, src, dst, f"{protocol}/{family}"), [])
                            have += realised.get((direction, src, dst, f"any/{family}"), [])
                            if not any(_covers(r, want) for r in have):
                                findings.append(
                                    f"matrix allows {service} from {src} to {dst} "
                                    f"but no {direction} {family} rule opens it"
                                )
    # 3. every port is guarded by its own zone's group and nothing else
    for port in idx.of(PORT):
        zones = idx.port_zones(port)
        ids = port.inputs.get("securityGroupIds") or []
        if port.inputs.get("portSecurityEnabled") is False or not ids:
            findings.append(f"{port.name}: port without security groups bypasses the matrix")
            continue
        for gid in ids:
            if gid not in group_zones or not group_zones[gid] <= zones | {""}:
                findings.append(f"{port.name}: in {sorted(zones)} carries group {gid}")
    return len(idx.of(SEC_RULE)) + len(idx.of(PORT)), findings


def _expand(estate: Estate, name: str, other: str) -> list[str]:
    return [z.name for z in estate.zones if z.name != other] if name == "*" else [name]


def _families(protocol: str) -> list[tuple[str, str]]:
    if protocol == "icmp":
        return [("icmp", "IPv4"), ("icmpv6", "IPv6")]
    if protocol == "icmpv6":
        return [("icmpv6", "IPv6")]
    return [(protocol, "IPv4"), (protocol, "IPv6")]


def _covers(have: tuple[int | None, int | None], want: tuple[int | None, int | None]) -> bool:
    if have[0] is None:
        return True
    if want[0] is None:
        return False
    return have[0] <= want[0] and (want[1] or want[0]) <= (have[1] or have[0])


def _first_disallowed(
    estate: Estate, src: str, dst: str, protocol: str, low: int | None, high: int | None
) -> str | None:
    if protocol == "any":
        return None if estate.allowed(src, dst, "any") else "every protocol"
    if protocol not in ("tcp", "udp") or low is None:
        return None if estate.allowed(src, dst, protocol) else f"{protocol} (all ports)"
    for port in range(low, (high or low) + 1):
        if not estate.allowed(src, dst, protocol, port):
            return f"{protocol}/{port}"
    return None


@invariant("dual-stack", "every network has an IPv4 and an IPv6 subnet, v6 as the zone says")
def dual_stack(idx: Index, _: Mapping[str, Any]) -> tuple[int, list[str]]:
    estate = idx.estate
    zones = {z.name: z for z in estate.zones}
    findings: list[str] = []
    networks = idx.of(NETWORK)
    for net in networks:
        subnets = idx.subnets_of(net)
        versions = {s.inputs.get("ipVersion") for s in subnets}
        for version in (4, 6):
            if version not in versions:
                findings.append(f"{net.name}: no IPv{version} subnet")
        provider = bool(net.inputs.get("segments"))
        for s in subnets:
            if s.inputs.get("ipVersion") != 6:
                continue
            cidr = ip_network(s.inputs.get("cidr", "::/0"), strict=False)
            if cidr.prefixlen != 64:
                findings.append(f"{s.name}: IPv6 subnet {cidr} is not a /64 (SLAAC needs one)")
            mode, ra = s.inputs.get("ipv6AddressMode"), s.inputs.get("ipv6RaMode")
            if not mode:
                findings.append(f"{s.name}: no ipv6_address_mode")
            if provider:
                continue  # an extranet node's own router sends the RAs there
            zone = estate.zone_of(cidr.network_address)
            want = zones[zone].ipv6_mode if zone in zones else None
            if want is not None and (mode, ra) != (want, want):
                findings.append(
                    f"{s.name}: IPv6 {mode}/{ra} but zone {zone} says {want} for address and RA"
                )
    for port in idx.of(PORT):
        families: set[int] = set()
        for fixed in port.inputs.get("fixedIps") or []:
            subnet = idx.ref(fixed.get("subnetId"))
            if subnet is not None:
                families.add(int(subnet.inputs.get("ipVersion") or 0))
        if families != {4, 6}:
            got = "/".join(f"IPv{v}" for v in sorted(families)) or "no subnet"
            findings.append(f"{port.name}: addresses only from {got}")
    return len(networks) + len(idx.of(PORT)), findings


@invariant("extranet-qos", "every county and township segment is limited to its owed bandwidth")
def extranet_qos(idx: Index, _: Mapping[str, Any]) -> tuple[int, list[str]]:
    estate = idx.estate
    findings: list[str] = []
    lans = {str(n.lan4): n for n in estate.nodes() if n.level in ("county", "township")}
    seen: set[str] = set()
    limits: dict[str, list[Planned]] = defaultdict(list)
    for rule in idx.of(QOS_LIMIT):
        limits[rule.inputs.get("qosPolicyId", "")].append(rule)
    segments = [n for n in idx.of(NETWORK) if n.inputs.get("segments")]
    for net in segments:
        node = next(
            (lans[s.inputs["cidr"]] for s in idx.subnets_of(net) if s.inputs.get("cidr") in lans),
            None,
        )
        if node is None:
            continue  # a provider network that is no county or township attachment
        seen.add(node.id)
        owed_kbps = estate.owed_bandwidth(node.level) // 1000
        policy = idx.ref(net.inputs.get("qosPolicyId"))
        if policy is None:
            findings.append(f"{net.name}: {node.level} {node.id} has no QoS policy")
            continue
        by_direction = {r.inputs.get("direction", "egress"): r for r in limits[policy.id]}
        for direction in ("egress", "ingress"):
            limit = by_direction.get(direction)
            got = limit.inputs.get("maxKbps") if limit else None
            if got != owed_kbps:
                findings.append(
                    f"{net.name}: {direction} limit {got} kbit/s, owed {owed_kbps} kbit/s "
                    f"({node.level} {node.id})"
                )
    for node_id, node in sorted((n.id, n) for n in lans.values()):
        if node_id not in seen:
            findings.append(f"{node.level} {node_id}: no extranet segment")
    return len(lans), findings


@invariant("separation-of-duties", "三员分立: three admin duties, three groups, per tenant")
def separation_of_duties(idx: Index, _: Mapping[str, Any]) -> tuple[int, list[str]]:
    findings: list[str] = []
    role_names = {r.id: r.inputs.get("name", r.name) for r in idx.of(ROLE)}
    duties: dict[tuple[str, str], set[str]] = defaultdict(set)  # (project, group) -> duties
    for a in idx.of(ROLE_ASSIGNMENT):
        role = role_names.get(a.inputs.get("roleId", ""), a.inputs.get("roleId", ""))
        if role == "admin":
            findings.append(f"{a.name}: grants Keystone admin on a tenant project")
        if role not in ADMIN_DUTY_ROLES:
            continue
        if a.inputs.get("userId"):
            findings.append(f"{a.name}: gives a user an admin duty directly, not through a group")
            continue
        duties[(a.inputs.get("projectId", ""), a.inputs.get("groupId", ""))].add(role)
    projects = idx.of(PROJECT)
    for project in projects:
        held = {k[1]: v for k, v in duties.items() if k[0] == project.id}
        for group, roles in held.items():
            if len(roles) > 1:
                known = idx.ref(group)
                name = known.name if known is not None else group
                findings.append(f"{project.name}: group {name} holds {', '.join(sorted(roles))}")
        present = set().union(*held.values()) if held else set()
        for role in ADMIN_DUTY_ROLES:
            if role not in present:
                findings.append(f"{project.name}: no group holds {role}")
    return len(projects), findings


@invariant(
    "explicit-quotas", "every tenant has compute, network and storage quotas, every field set"
)
def explicit_quotas(idx: Index, _: Mapping[str, Any]) -> tuple[int, list[str]]:
    findings: list[str] = []
    main, dr = idx.estate.sites.main.region, idx.estate.sites.dr.region
    # Storage is also needed at the DR centre: replicas and backups count there.
    regions = {COMPUTE_QUOTA: (main,), NETWORK_QUOTA: (main,), STORAGE_QUOTA: (main, dr)}
    projects = idx.of(PROJECT)
    for project in projects:
        for typ, fields in QUOTA_FIELDS.items():
            quotas = [q for q in idx.of(typ) if q.inputs.get("projectId") == project.id]
            for region in regions[typ]:
                if not any(q.inputs.get("region") == region for q in quotas):
                    findings.append(f"{project.name}: no {typ.rsplit(':', 1)[-1]} in {region}")
            for q in quotas:
                for f in fields:
                    value = q.inputs.get(f)
                    if value is None:
                        findings.append(f"{q.name}: {f} not set (the provider would zero it)")
                    elif isinstance(value, int) and value < 0:
                        findings.append(f"{q.name}: {f} unlimited ({value})")
    return len(projects), findings


@invariant("no-plain-secrets", "credentials only as Pulumi secrets, in resources and stack config")
def no_plain_secrets(idx: Index, stack_config: Mapping[str, Any]) -> tuple[int, list[str]]:
    findings: list[str] = []
    checked = 0
    for r in idx.plan.resources:
        for key, value in _walk(r.inputs, ""):
            if not SECRET_KEY.search(key.rsplit(".", 1)[-1]):
                continue
            checked += 1
            if value not in (None, "", SECRET) and key not in r.secrets:
                findings.append(f"{r.name}: {key} is in plain text (use require_secret)")
    for key, value in stack_config.items():
        if SECRET_KEY.search(key.rsplit(":", 1)[-1]):
            checked += 1
            if not (isinstance(value, dict) and "secure" in value):
                findings.append(
                    f"stack config {key} is not a secure: value (pulumi config set --secret)"
                )
    return checked, findings


def _walk(value: Any, path: str) -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, value
