"""The invariants, checked over the planned resources before anything is applied.

The same functions run under `yunwang plan` and inside the PolicyPack
(`infra/policy`). `INVARIANTS` at the end lists them in the order they are reported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from ipaddress import ip_network
from typing import Any

from estate import Estate
from infra.checks import (
    ADMIN_DUTY_ROLES,
    COMPUTE_QUOTA,
    NETWORK,
    NETWORK_QUOTA,
    PORT,
    PROJECT,
    QOS_LIMIT,
    QUOTA_FIELDS,
    ROLE,
    ROLE_ASSIGNMENT,
    SECRET_KEY,
    STORAGE_QUOTA,
    Check,
    CheckResult,
    Index,
)
from infra.isolation_check import isolation_matrix
from infra.planning import SECRET, Plan, Planned

__all__ = ["INVARIANTS", "CheckResult", "Index", "check_all"]


def check_all(
    plan: Plan, estate: Estate, stack_config: Mapping[str, Any] | None = None
) -> list[CheckResult]:
    idx = Index(plan, estate)
    results = []
    for name, (title, fn) in INVARIANTS.items():
        checked, findings = fn(idx, stack_config or {})
        results.append(CheckResult(name, title, checked, findings))
    return results


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


# name -> (title, check), in the order they are reported (isolation first).
INVARIANTS: dict[str, tuple[str, Check]] = {
    "isolation-matrix": (
        "security groups implement the isolation matrix, both ways",
        isolation_matrix,
    ),
    "dual-stack": ("every network has an IPv4 and an IPv6 subnet, v6 as the zone says", dual_stack),
    "extranet-qos": (
        "every county and township segment is limited to its owed bandwidth",
        extranet_qos,
    ),
    "separation-of-duties": (
        "三员分立: three admin duties, three groups, per tenant",
        separation_of_duties,
    ),
    "explicit-quotas": (
        "every tenant has compute, network and storage quotas, every field set",
        explicit_quotas,
    ),
    "no-plain-secrets": (
        "credentials only as Pulumi secrets, in resources and stack config",
        no_plain_secrets,
    ),
}
