"""Each component under Pulumi's mocks, asserting on the values its resources resolve to."""

from __future__ import annotations

import asyncio
from ipaddress import ip_network
from pathlib import Path

import pulumi
import pytest

from estate import Estate, load_text
from infra.dr import DrCentre, replication_prefixes
from infra.extranet import ExtranetQos, ExtranetSegment
from infra.identity import ADMIN_DUTIES, DUTY_ROLES, CityIdentity, Tenant
from infra.inventory import inventory
from infra.program import admin_provider, build
from infra.system import System
from infra.zones import CityZones, ZoneNetwork, first_64

from .conftest import known, settings_for


def identity() -> CityIdentity:
    return CityIdentity(
        roles={role: f"Role/{role}" for role in DUTY_ROLES.values()}, deployer_id="User/deployer"
    )


@pulumi.runtime.test
async def test_known_refuses_an_unknown_output() -> None:
    loop = asyncio.get_running_loop()
    value, is_known, is_secret = loop.create_future(), loop.create_future(), loop.create_future()
    value.set_result(None)
    is_known.set_result(False)  # what a preview gives for an id not yet created
    is_secret.set_result(False)
    deps: asyncio.Future[set[pulumi.Resource]] = loop.create_future()
    deps.set_result(set())
    with pytest.raises(AssertionError, match="unknown"):
        await known(pulumi.Output(deps, value, is_known, is_secret))


@pulumi.runtime.test
async def test_tenant_has_three_separate_admin_duties_and_every_quota(small: Estate) -> None:
    spec = small.tenant("gaj")
    admin = admin_provider(settings_for(small), small.sites.main.region)
    tenant = Tenant(spec, identity(), settings_for(small), small.sites.main.region, admin)
    assert await known(tenant.project.name) == "gaj"
    assert await known(tenant.project.description) == spec.name
    names = {duty: await known(g.name) for duty, g in tenant.groups.items()}
    assert names == {duty: f"gaj-{duty}" for duty in DUTY_ROLES}
    ids = [await known(tenant.groups[d].id) for d in ADMIN_DUTIES]
    assert len(set(ids)) == 3, "each admin duty is its own group"
    compute, network, storage = tenant.quotas
    assert await known(compute.instances) == spec.quotas.compute.instances == 40
    assert await known(compute.ram) == spec.quotas.compute.ram_mb
    assert await known(network.port) == spec.quotas.network.ports
    assert await known(network.subnetpool) == 0
    assert await known(storage.gigabytes) == spec.quotas.storage.gigabytes == 20000
    assert await known(compute.project_id) == await known(tenant.project.id)


@pulumi.runtime.test
async def test_zone_groups_follow_the_matrix_and_never_open_the_world(small: Estate) -> None:
    admin = admin_provider(settings_for(small), small.sites.main.region)
    zones = CityZones(small, small.sites.main.region, admin)
    assert set(zones.security_groups) == {
        "gov-extranet",
        "exchange",
        "management",
        "dr-replication",
    }
    internet = await known(zones.address_groups["internet"].addresses)
    assert internet and "10.32.0.0/12" not in internet
    for prefix in internet:
        assert not ip_network(prefix).overlaps(ip_network("10.32.0.0/12"))
    exchange = await known(zones.security_groups["exchange"].id)
    internet_id = await known(zones.address_groups["internet"].id)
    opened = []
    for rule in zones.rules:
        assert await known(rule.remote_ip_prefix) is None  # only address groups, never 0.0.0.0/0
        if (
            await known(rule.security_group_id) == exchange
            and await known(rule.remote_address_group_id) == internet_id
        ):
            opened.append(
                (
                    await known(rule.direction),
                    await known(rule.ethertype),
                    await known(rule.protocol),
                    await known(rule.port_range_min),
                )
            )
    assert sorted(opened) == [("ingress", "IPv4", "tcp", 443), ("ingress", "IPv6", "tcp", 443)]
    assert await known(zones.security_groups["management"].delete_default_rules) is True


@pulumi.runtime.test
async def test_zone_network_is_dual_stack_from_the_plan(small: Estate) -> None:
    settings = settings_for(small)
    admin = admin_provider(settings, small.sites.main.region)
    zones = CityZones(small, small.sites.main.region, admin)
    zone = small.zone("exchange")
    prefixes = small.tenant_prefix("gaj", "exchange")
    net = ZoneNetwork(
        "gaj", zone, prefixes, "Project/gaj", zones.security_groups["exchange"], admin, admin
    )
    assert await known(net.subnet4.cidr) == str(prefixes[0])
    v6 = await known(net.subnet6.cidr)
    assert v6 == str(first_64(prefixes[1])) and ip_network(v6).prefixlen == 64
    assert ip_network(v6).subnet_of(prefixes[1])  # type: ignore[arg-type]
    assert await known(net.subnet6.ipv6_address_mode) == zone.ipv6_mode
    assert await known(net.subnet6.ipv6_ra_mode) == zone.ipv6_mode
    assert await known(net.subnet4.network_id) == await known(net.network.id)


@pulumi.runtime.test
async def test_extranet_segment_carries_the_owed_bandwidth(small: Estate) -> None:
    admin = admin_provider(settings_for(small), small.sites.main.region)
    township = small.nodes(level="township")[0]
    qos = ExtranetQos("township", small.owed_bandwidth("township"), "r", admin)
    segment = ExtranetSegment(township, 1042, "extranet", qos, {"rsj": "Project/rsj"}, "r", admin)
    assert await known(segment.network.qos_policy_id) == await known(qos.policy.id)
    segments = await known(segment.network.segments)
    assert segments is not None
    assert (segments[0].network_type, segments[0].segmentation_id) == ("vlan", 1042)
    limits = {await known(r.direction): await known(r.max_kbps) for r in qos.rules}
    assert limits == {"egress": 100_000, "ingress": 100_000}  # 百兆到乡镇
    assert await known(segment.network.shared) is False
    targets = [await known(p.target_tenant) for p in segment.shares]
    assert targets == ["Project/rsj"]


@pulumi.runtime.test
async def test_system_ports_carry_planned_addresses(small: Estate) -> None:
    settings = settings_for(small)
    admin = admin_provider(settings, small.sites.main.region)
    zones = CityZones(small, small.sites.main.region, admin)
    dr = DrCentre(small, settings, admin)
    spec = small.systems(tenant="gaj")[0]
    zone = small.zone(spec.zone)
    net = ZoneNetwork(
        "gaj", zone, small.tenant_prefix("gaj", spec.zone), "Project/gaj",
        zones.security_groups[spec.zone], admin, admin,
    )  # fmt: skip
    system = System(
        spec, zone, net.network, net.subnet4, net.subnet6,
        zones.security_groups[spec.zone].id, dr.main_volume_types, admin,
    )  # fmt: skip
    assert set(system.instances) == {h.name for h in spec.hosts}
    for host in spec.hosts:
        fixed = await known(system.ports[host.name].fixed_ips)
        assert fixed is not None and fixed[0].ip_address == str(host.address4)
        assert fixed[1].subnet_id == await known(net.subnet6.id)
        pairs = await known(system.ports[host.name].allowed_address_pairs)
        assert pairs is not None and pairs[0].ip_address == f"{host.address6}/128"  # SLAAC zone
        instance = system.instances[host.name]
        assert await known(instance.flavor_name) == host.flavor
        assert (await known(instance.metadata) or {})["yunwang:mlps_level"] == "3"
        volume = system.volumes[host.name]
        assert await known(volume.size) == host.volume_gb
        assert await known(volume.volume_type) == "dr-gold"


@pulumi.runtime.test
async def test_dr_centre_types_and_replication_network(small: Estate) -> None:
    settings = settings_for(small)
    admin = admin_provider(settings, small.sites.main.region)
    dr = DrCentre(small, settings, admin)
    assert await known(dr.provider.region) == small.sites.dr.region
    specs = {name: await known(t.extra_specs) or {} for name, t in dr.volume_types.items()}
    assert specs["gold"]["replication_enabled"] == "<is> True"
    assert "replication_enabled" not in specs["bronze"]  # bronze is backup, not replication
    net4, net6 = replication_prefixes(small, "dr-replication")
    assert net4.subnet_of(small.zone("dr-replication").prefix4)  # type: ignore[arg-type]
    assert net6.prefixlen == 64


@pulumi.runtime.test
async def test_inventory_has_real_ids_and_groups(small: Estate) -> None:
    city = build(small, settings_for(small))
    inv = await known(inventory(small, city.systems))
    groups = inv["all"]["children"]
    host = groups["cloud"]["hosts"]["jwzh-db"]
    assert host["instance_id"] == "Instance/jwzh-db"
    assert host["port_id"] == "Port/jwzh-db-port"
    assert host["ansible_host"] == "10.32.0.12" and host["tenant"] == "gaj"
    assert set(groups["mlps_3"]["hosts"]) >= {"jwzh-db", "soc-1"}
    assert "gaj-web-1" in groups["mlps_2"]["hosts"]
    assert set(groups["county_hl"]["hosts"]) >= {"hl-agg-1", "hl-zyl-r1"}
    assert "hl-agg-1" not in groups["county_qf"]["hosts"]


def test_dr_replication_network_refuses_a_tenant_in_the_last_slot(small: Estate) -> None:
    text = Path(small.file).read_text(encoding="utf-8")
    pinned = text.replace(
        "    zone:management: {ipv4: 10.35.192.0/18}",
        "    zone:management: {ipv4: 10.35.192.0/18}\n"
        "    tenant:dsjj/dr-replication: {ipv4: 10.33.63.0/24}",
    )
    assert pinned != text
    estate = load_text(pinned, small.file)
    with pytest.raises(ValueError, match=r"dsjj/dr-replication reaches the DR replication network"):
        replication_prefixes(estate, "dr-replication")
