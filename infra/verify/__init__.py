"""`yunwang verify cloud`: what the live cloud holds against what the estate implies.

Pulumi's refresh sees drift only in the resources it manages; this reads
everything (projects, groups and role assignments, quotas, networks and
their segments, subnets, routers, security groups and rules, address
groups, QoS policies and rules, RBAC shares) and reports objects that are
missing, different, or unmanaged, each graded by the YW-CLOUD-* rules.

    report = verify(estate, ReadOnlyCloud(connect))
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from estate import Estate
from infra.planning import Plan, plan_estates
from infra.security_groups import zone_address_sets
from infra.verify.compare import Drift, compare
from infra.verify.desired import Desired
from infra.verify.live import identity_state, network_state
from infra.verify.reader import ReadOnlyCloud, read_identity, read_network
from infra.verify.state import State

__all__ = ["Drift", "ReadOnlyCloud", "Report", "verify"]

# Services the plan uses that this verifier does not read (yet), by catalog types.
UNREAD = (
    (frozenset({"compute"}), "compute quotas"),
    (frozenset({"block-storage", "volumev3", "volume"}), "volume types and storage quotas"),
)


@dataclass
class Report:
    estate: str
    drifts: list[Drift] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # kind -> objects compared
    notes: list[str] = field(default_factory=list)  # what could not be checked, and why
    api_calls: int = 0
    seconds: float = 0.0


def verify(estate: Estate, cloud: ReadOnlyCloud, plan: Plan | None = None) -> Report:
    started = time.perf_counter()
    plan = plan or plan_estates([estate])[0]
    desired = Desired(plan)
    report = Report(estate=estate.file)
    zone_sets = zone_address_sets(estate)
    main = estate.sites.main.region
    identity = read_identity(cloud, main)
    want_identity = desired.identity()
    have_identity, projects = identity_state(identity)
    report.drifts += compare(want_identity, have_identity, "", desired.admin_project, zone_sets)
    _count(report, want_identity)
    for region in desired.regions:
        services = cloud.services(region)
        if "network" not in services:
            report.notes.append(f"region {region}: no network endpoint in the catalog, not checked")
            continue
        live = read_network(cloud, region)
        want = desired.network(region)
        report.drifts += compare(
            want, network_state(live, projects), region, desired.admin_project, zone_sets
        )
        _count(report, want)
        for types, what in UNREAD:
            why = "not compared yet" if services & types else "no endpoint in the catalog"
            report.notes.append(f"region {region}: {what}: {why}")
    report.api_calls = cloud.calls
    report.seconds = time.perf_counter() - started
    return report


def _count(report: Report, state: State) -> None:
    for kind, _key in state:
        report.checked[kind] = report.checked.get(kind, 0) + 1
