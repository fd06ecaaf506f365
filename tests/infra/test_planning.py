"""The mock-runtime planner: complete, deterministic, independent of how it is split."""

from __future__ import annotations

import runpy
from collections import Counter
from pathlib import Path

import pulumi
import pytest

from estate import Estate, load_text
from infra.planning import PLACEHOLDER_AUTH_URL, Plan, PlanError, plan_config, plan_estates

from .conftest import ROOT, known


def test_plan_counts_follow_the_estate(small_plan: Plan, small: Estate) -> None:
    types = Counter(r.type.rsplit(":", 1)[-1] for r in small_plan.resources)
    hosts = [h for s in small.systems() for h in s.hosts]
    assert types["Instance"] == types["Port"] == types["Volume"] == len(hosts) == 12
    assert types["Project"] == len(small.tenants) == 3
    assert types["GroupV3"] == 5 * len(small.tenants)
    segments = small.nodes(level="county") + small.nodes(level="township")
    zone_networks = {(s.tenant, s.zone) for s in small.systems()}
    standby = {(s.tenant, s.zone) for s in small.replicated_systems()}
    # tenant zone networks + extranet segments + DR standby + the DR replication network
    assert types["Network"] == len(zone_networks) + len(segments) + len(standby) + 1
    assert types["Subnet"] == 2 * types["Network"]
    assert types["SecGroup"] == 4 and types["AddressGroupV2"] == 5
    assert types["Provider"] == 0  # providers are typed pulumi:providers:openstack
    providers = [r for r in small_plan.resources if r.type == "pulumi:providers:openstack"]
    assert {p.name for p in providers} == {
        "admin",
        "dr-admin",
        "gaj-provider",
        "rsj-provider",
        "dsjj-provider",
    }


def test_tenant_resources_use_the_tenant_scoped_provider(small_plan: Plan) -> None:
    ports = [r for r in small_plan.resources if r.type.endswith(":Port")]
    assert {p.provider.split("::")[-2] for p in ports} == {
        "gaj-provider", "rsj-provider", "dsjj-provider"
    }  # fmt: skip
    provider = next(r for r in small_plan.resources if r.name == "gaj-provider")
    assert provider.inputs["tenantId"] == "Project/gaj-project"
    assert provider.inputs["password"] == "[secret]"


def test_sharded_plan_equals_the_whole_program(small: Estate, small_plan: Plan) -> None:
    (sharded,) = plan_estates([small], workers=3)
    assert [r.urn for r in sharded.resources] == [r.urn for r in small_plan.resources]
    assert [r.inputs for r in sharded.resources] == [r.inputs for r in small_plan.resources]


def test_shared_extranet_tenants_from_stack_config(small: Estate) -> None:
    (plan,) = plan_estates([small], {"yunwang:extranetTenants": ["dsjj"]}, workers=2)
    shares = [r for r in plan.resources if r.name.startswith("extranet-") and "-share-" in r.name]
    assert len(shares) == 6  # 2 counties + 4 townships, each shared with dsjj only
    assert {r.inputs["targetTenant"] for r in shares} == {"Project/dsjj-project"}
    assert {r.inputs["objectType"] for r in shares} == {"network"}


def test_unknown_extranet_tenant_is_one_clear_line(small: Estate) -> None:
    with pytest.raises(PlanError) as caught:
        plan_estates([small], {"yunwang:extranetTenants": ["nobody"]}, workers=1)
    message = str(caught.value)
    assert "\n" not in message and "extranetTenants names no tenant" in message
    assert "nobody" in message


def test_plan_config_keeps_only_plain_yunwang_values() -> None:
    config = plan_config(
        "e.yaml",
        {
            "yunwang:password": {"secure": "v1:abc"},
            "yunwang:vlanStart": 2000,
            "openstack:region": "x",
        },
    )
    assert config["yunwang:password"] == "plan-placeholder"
    assert config["yunwang:vlanStart"] == "2000"
    assert config["yunwang:authUrl"] == PLACEHOLDER_AUTH_URL
    assert "openstack:region" not in config


def test_vlan_ids_come_from_the_configured_start(small: Estate) -> None:
    (plan,) = plan_estates([small], {"yunwang:vlanStart": 3000}, workers=1)
    vlans = sorted(
        r.inputs["segments"][0]["segmentationId"]
        for r in plan.resources
        if r.type.endswith(":Network") and r.inputs.get("segments")
    )
    assert vlans == list(range(3000, 3006))


def test_removing_a_system_plans_fewer_resources(small: Estate, small_plan: Plan) -> None:
    text = Path(small.file).read_text(encoding="utf-8")
    cut = text.replace(
        """      - {code: portal, name: 公安门户网站, zone: exchange, mlps_level: 2, dr_class: silver, ipv6: ready,
         hosts: [{name: gaj-web, count: 2}]}
""",
        "",
    )
    assert cut != text
    (smaller,) = plan_estates([load_text(cut, small.file)], workers=1)
    gone = {r.name for r in small_plan.resources} - {r.name for r in smaller.resources}
    assert {"gaj-web-1", "gaj-web-1-port", "gaj-exchange-net", "dr-gaj-exchange-net"} <= gone


@pulumi.runtime.test
async def test_the_pulumi_entry_point_runs_under_mocks(small: Estate) -> None:
    """infra/__main__.py itself, as `pulumi up` would run it, with config set the Pulumi way."""
    pulumi.runtime.set_all_config(
        {
            "yunwang:estate": small.file,
            "yunwang:authUrl": "https://keystone.test.invalid:5000/v3",
            "yunwang:password": "from-the-stack-secrets",
        },
        secret_keys=["yunwang:password"],
    )
    namespace = runpy.run_path(str(ROOT / "infra" / "__main__.py"))
    city = namespace["city"]
    assert set(city.tenants) == {"gaj", "rsj", "dsjj"}
    assert await known(city.tenants["gaj"].project.name) == "gaj"
    provider = city.tenants["gaj"].provider
    assert await provider.urn.is_known()


@pytest.mark.slow
def test_the_full_city_plans_clean(puyang_plan: Plan, puyang: Estate) -> None:
    from infra.invariants import check_all

    results = check_all(puyang_plan, puyang)
    assert all(r.passed for r in results), [f for r in results for f in r.findings][:10]
    hosts = sum(len(s.hosts) for s in puyang.systems())
    assert sum(r.type.endswith(":Instance") for r in puyang_plan.resources) == hosts
    segments = [n for n in puyang.nodes() if n.level in ("county", "township")]
    qos = [
        r
        for r in puyang_plan.resources
        if r.type.endswith(":Network") and r.inputs.get("qosPolicyId")
    ]
    assert len(qos) == len(segments)


def test_entry_point_reports_a_bad_estate_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("city: {name: x}\n", encoding="utf-8")
    pulumi.runtime.set_all_config(
        {
            "yunwang:estate": str(bad),
            "yunwang:authUrl": "https://k.invalid/v3",
            "yunwang:password": "p",
        },
        secret_keys=["yunwang:password"],
    )
    with pytest.raises(pulumi.RunError) as caught:
        runpy.run_path(str(ROOT / "infra" / "__main__.py"))
    assert "bad.yaml" in str(caught.value)
