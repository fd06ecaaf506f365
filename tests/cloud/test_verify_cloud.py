"""`verify cloud` against the real cloud: zero drift after deployment, then hand-made drift.

The module changes the cloud by hand (as a department's admin would) after
the zero-drift check, so it runs after test_plan_accepted (file order).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from estate import Estate
from infra.planning import Plan
from infra.verify import ReadOnlyCloud, verify
from security.audit import AuditTrail
from security.posture import PostureInputs, score
from security.store import open_store
from tests.cloud.testcloud import DR_REGION, REGION, TestCloud
from tests.cloud.translate import Outcome

ROOT = Path(__file__).resolve().parents[2]
# A token is the one POST a read needs; anything else would be a write.
AUTH = "POST /v3/auth/tokens"


def readonly(cloud: TestCloud) -> ReadOnlyCloud:
    def connect(region: str) -> Any:
        import openstack

        return openstack.connect(
            auth=cloud.auth(), region_name=region, load_yaml_config=False, load_envvars=False
        )

    return ReadOnlyCloud(connect)


def test_deployed_estate_has_no_drift_and_verify_only_reads(
    cloud: TestCloud, deployed: Outcome, small_estate: Estate, small_plan: Plan
) -> None:
    assert not deployed.defects
    mark = cloud.access_mark()
    reader = readonly(cloud)
    report = verify(small_estate, reader, small_plan)
    reader.close()
    assert report.drifts == [], "\n".join(
        f"{d.finding} {d.kind} {d.key} {d.summary}" for d in report.drifts
    )
    assert report.checked["security_group_rule"] == 110
    assert report.checked["role_assignment"] == 18  # 5 duties x 3 tenants + the deployer's
    assert report.checked["network_quota"] == 3 + 1  # the tenants' and the admin's
    assert report.checked["port"] == 12
    # Both regions: a volume type per DR class and a storage quota per tenant in each,
    # the DR centre's replication and standby networks in its own.
    assert report.checked["volume_type"] == 6
    assert report.checked["storage_quota"] == 6
    assert report.checked["network"] == 12 + 7
    # Nova is the one service the test cloud lacks: said for each region, nothing else is.
    assert sorted(report.notes) == [
        f"region {r}: compute quotas: no endpoint in the catalog"
        for r in sorted((REGION, DR_REGION))
    ]
    # The services' own access logs: every request the verification made.
    requests = cloud.requests_since(mark)
    assert len(requests) >= report.api_calls > 10
    writes = [r for r in requests if not r.startswith("GET ") and not r.startswith(AUTH)]
    assert writes == []


def _hand_changes(admin: Any, dr: Any) -> None:
    """What departments and admins do behind the program's back, in both regions."""
    net = admin.network
    projects = {p.name: p.id for p in admin.identity.projects()}
    groups = {(g.project_id, g.name): g.id for g in net.security_groups()}
    # 1. delete one matrix rule: the internet's https into the exchange zone
    exchange = groups[(projects["admin"], "zone-exchange")]
    ags = {a.name: a.id for a in net.address_groups()}
    rule = next(
        r
        for r in net.security_group_rules(security_group_id=exchange)
        if r.direction == "ingress"
        and r.port_range_min == 443
        and r.ether_type == "IPv4"
        and r.remote_address_group_id == ags["zone-internet"]
    )
    net.delete_security_group_rule(rule)
    # 2. a department opens ssh to the world in its own group
    gaj_default = next(
        g.id for g in net.security_groups(project_id=projects["gaj"], name="default")
    )
    net.create_security_group_rule(
        security_group_id=gaj_default,
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="0.0.0.0/0",
    )
    # 3. someone lets the exchange zone reach the management zone's database port
    net.create_security_group_rule(
        security_group_id=groups[(projects["admin"], "zone-management")],
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=5432,
        port_range_max=5432,
        remote_address_group_id=ags["zone-exchange"],
    )
    # 4. a raised quota, 5. a project nobody declared
    net.update_quota(projects["rsj"], routers=50)
    admin.identity.create_project(name="shadow-it", domain_id="default")
    # 6. a raised storage quota in the DR centre, 7. a volume type there no longer replicating
    _ok(
        dr.block_storage.put(
            f"/os-quota-sets/{projects['gaj']}", json={"quota_set": {"volumes": 500}}
        )
    )
    gold = next(
        t for t in dr.block_storage.get("/types").json()["volume_types"] if t["name"] == "dr-gold"
    )
    body = {"extra_specs": {"replication_enabled": "<is> False"}}
    _ok(dr.block_storage.post(f"/types/{gold['id']}/extra_specs", json=body))
    # 8. a DR standby subnet deleted, 9. a port a department made by hand in its network
    standby = next(s for s in dr.network.subnets() if s.name == "dr-gaj-gov-extranet-v6")
    dr.network.delete_subnet(standby)
    web = next(n for n in net.networks() if n.name == "gaj-exchange")
    net.create_port(network_id=web.id, name="hand-made", project_id=projects["gaj"])
    # 10. a planned web port (exchange zone) moved into the management zone's group
    port = next(p for p in net.ports() if p.name == "gaj-web-1")
    net.update_port(port, security_group_ids=[groups[(projects["admin"], "zone-management")]])


def _ok(response: Any) -> None:
    assert response.status_code < 300, response.text


def test_hand_made_drift_is_reported_graded_and_stored(
    cloud: TestCloud, admin: Any, deployed: Outcome, tmp_path: Path
) -> None:
    dr = cloud.connect(DR_REGION)
    _hand_changes(admin, dr)
    dr.close()
    clouds = cloud.clouds_yaml(tmp_path / "clouds.yaml")
    home = tmp_path / "home"
    env = {**os.environ, "YUNWANG_HOME": str(home)}
    env = {k: v for k, v in env.items() if not k.startswith("OS_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "yunwang",
            "verify",
            "cloud",
            str(ROOT / "examples" / "small.yaml"),
            "--cloud",
            str(clouds),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    found = {(d["finding"], d["kind"], d["object"]): d for d in doc["drifts"]}
    graded = {key: (d["level"], d["rule"]) for key, d in found.items()}
    regions = {key: d["region"] for key, d in found.items()}
    assert graded == {
        (
            "missing",
            "security_group_rule",
            "admin/zone-exchange ingress IPv4 tcp 443 ag:zone-internet",
        ): ("yellow", "YW-CLOUD-001"),
        ("unmanaged", "security_group_rule", "gaj/default ingress IPv4 tcp 22 0.0.0.0/0"): (
            "red",
            "YW-CLOUD-003",
        ),
        (
            "unmanaged",
            "security_group_rule",
            "admin/zone-management ingress IPv4 tcp 5432 ag:zone-exchange",
        ): ("red", "YW-CLOUD-003"),
        ("different", "network_quota", "rsj"): ("blue", "YW-CLOUD-002"),
        ("unmanaged", "project", "shadow-it"): ("yellow", "YW-CLOUD-003"),
        ("different", "storage_quota", "gaj"): ("blue", "YW-CLOUD-002"),
        ("different", "volume_type", "dr-gold"): ("yellow", "YW-CLOUD-002"),
        ("missing", "subnet", "dr-gaj-gov-extranet-v6"): ("yellow", "YW-CLOUD-001"),
        ("unmanaged", "port", "hand-made"): ("yellow", "YW-CLOUD-003"),
        ("different", "port", "gaj-web-1"): ("yellow", "YW-CLOUD-002"),
    }
    dr_findings = {k for k, region in regions.items() if region == DR_REGION}
    assert dr_findings == {
        ("different", "storage_quota", "gaj"),
        ("different", "volume_type", "dr-gold"),
        ("missing", "subnet", "dr-gaj-gov-extranet-v6"),
    }
    assert found[("different", "storage_quota", "gaj")]["fields"]["volumes"]["live"] == 500
    assert list(found[("different", "port", "gaj-web-1")]["fields"]) == ["security_groups"]
    assert found[("different", "network_quota", "rsj")]["fields"]["router"]["live"] == 50
    assert (
        found[("unmanaged", "security_group_rule", "gaj/default ingress IPv4 tcp 22 0.0.0.0/0")][
            "exposure"
        ]
        == "internet-ssh"
    )
    # The warnings reached the store the security verbs read, and the run is in the audit trail.
    store = open_store(f"sqlite:///{home / 'events.db'}")
    try:
        warnings = store.find_warnings()
    finally:
        store.close()
    assert {(w.rule_id, w.level) for w in warnings} >= {
        ("YW-CLOUD-003", "red"),
        ("YW-CLOUD-002", "blue"),
    }
    # The posture view's score of the tenant that opened ssh to the world counts it.
    gaj = score(PostureInputs(), warnings, "tenant", "gaj", datetime.now(UTC))
    assert any("red YW-CLOUD-003" in d.reason for d in gaj.deductions), gaj.deductions
    trail = list(AuditTrail(home / "audit.jsonl").records())
    assert trail[-1].action == "infra.verify-cloud" and trail[-1].detail["red"] == 2
