"""`yunwang verify cloud`: what the live cloud holds against what the estate implies.

Pulumi's refresh sees drift only in the resources it manages; this reads
everything (projects, groups and role assignments, quotas, networks and
their segments, subnets, routers, security groups and rules, address
groups, QoS policies and rules, RBAC shares, ports, volume types and
storage quotas), in every region the plan names, and reports objects that are
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
from infra.verify.live import identity_state, region_state
from infra.verify.reader import BLOCK_STORAGE_TYPES, ReadOnlyCloud, read_identity, read_region
from infra.verify.state import State

__all__ = ["Drift", "ReadOnlyCloud", "Report", "verify"]

# Services the plan uses that this verifier does not read (yet), by catalog types.
UNREAD = ((frozenset({"compute"}), "compute quotas"),)
CINDER_KINDS = frozenset({"volume_type", "storage_quota"})


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
        want = desired.network(region)
        live = read_region(cloud, region, _declared_ids(want, projects))
        if not live.services & BLOCK_STORAGE_TYPES:
            report.notes.append(
                f"region {region}: volume types and storage quotas: no endpoint in the catalog"
            )
            want = {k: o for k, o in want.items() if o.kind not in CINDER_KINDS}
        report.drifts += compare(
            want, region_state(live, projects), region, desired.admin_project, zone_sets
        )
        _count(report, want)
        for types, what in UNREAD:
            why = "not compared yet" if services & types else "no endpoint in the catalog"
            report.notes.append(f"region {region}: {what}: {why}")
    report.api_calls = cloud.calls
    report.seconds = time.perf_counter() - started
    return report


def _declared_ids(want: State, projects: dict[str, str]) -> list[str]:
    """Ids of the projects whose storage quota the plan sets in this region."""
    wanted = {o.key for o in want.values() if o.kind == "storage_quota"}
    return sorted(pid for pid, name in projects.items() if name in wanted)


def _count(report: Report, state: State) -> None:
    for kind, _key in state:
        report.checked[kind] = report.checked.get(kind, 0) + 1
