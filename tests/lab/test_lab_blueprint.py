"""The plan computed from the estate: no root needed."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_interface
from pathlib import Path

import pytest

from estate import Estate, load
from lab.addressing import LAB4, LAB6, AddressMap
from lab.blueprint import LabPlan, plan_slice
from lab.errors import LabError
from lab.placement import Slice, select_nodes

SMALL = Path(__file__).resolve().parents[2] / "examples" / "small.yaml"


@pytest.fixture(scope="module")
def small() -> Estate:
    return load(str(SMALL))


def test_default_slice_has_city_two_counties_townships_and_villages(small: Estate) -> None:
    plan = plan_slice(small, Slice(), "t000")
    levels = [r.level for r in plan.routers]
    assert levels.count("city") == 1
    assert levels.count("county") == 2
    assert levels.count("township") == 2
    assert levels.count("village") == 2
    # every county and township in the slice has its primary and backup cable
    for router in plan.routers:
        if router.level in ("county", "township"):
            roles = sorted(c.role for c in plan.cables if c.child == router.node)
            assert roles == ["backup", "primary"], router.node


def test_every_address_is_in_the_test_ranges_and_unique(small: Estate) -> None:
    plan = plan_slice(small, Slice(counties=2, townships=2, villages=2, hosts=8), "t000")
    seen: dict[str, str] = {}
    for router in plan.routers:
        for iface in router.interfaces:
            assert len(iface.name) <= 15
            for address in iface.addresses:
                addr = ip_interface(address).ip
                assert addr in (LAB4 if addr.version == 4 else LAB6), address
                key = str(addr)
                # a router may hold one address on two of its own interfaces, never two routers
                assert seen.setdefault(key, router.node) == router.node, key
    for host in plan.hosts:
        for address in (host.address4, host.address6):
            addr = ip_interface(address).ip
            assert addr in (LAB4 if addr.version == 4 else LAB6)
            assert str(addr) not in seen
            seen[str(addr)] = host.name


def test_primary_is_cheaper_than_backup_and_bfd_only_on_dual_links(small: Estate) -> None:
    plan = plan_slice(small, Slice(), "t000")
    costs = {(i.link, r.node): i.cost for r in plan.routers for i in r.interfaces if i.link}
    for cable in plan.cables:
        for node in (cable.child, cable.parent):
            assert costs[(cable.link, node)] == (10 if cable.role == "primary" else 100)
        assert cable.bfd == (cable.level in ("county", "township"))


def test_hosts_span_city_zones_and_township_lans(small: Estate) -> None:
    plan = plan_slice(small, Slice(hosts=4), "t000")
    levels = {plan.router(h.router).level for h in plan.hosts}
    assert levels == {"city", "township"}
    assert {h.segment for h in plan.hosts} >= {"zone:gov-extranet", "zone:internet"}
    counties = {small.node(h.router).county for h in plan.hosts if h.segment.startswith("lan:")}
    assert len(counties) == 2  # the two township hosts are in different counties


def test_zones_are_separate_segments_on_the_city_router(small: Estate) -> None:
    plan = plan_slice(small, Slice(), "t000")
    zone_segments = {s.zone: s.bridge for s in plan.segments if s.zone}
    assert {"gov-extranet", "internet", "exchange"} <= set(zone_segments)
    assert len(set(zone_segments.values())) == len(zone_segments)


def test_plan_is_deterministic_and_round_trips(small: Estate) -> None:
    first = plan_slice(small, Slice(), "t000")
    again = plan_slice(load(str(SMALL)), Slice(), "t000")
    assert first.to_dict() == again.to_dict()
    assert LabPlan.from_dict(first.to_dict()) == first


def test_estate_addresses_map_into_lab_ranges(small: Estate) -> None:
    plan = plan_slice(small, Slice(), "t000")
    amap = AddressMap.from_dict(plan.addresses)
    link = small.links()[0]
    lab4 = amap.lab_address(link.child_end.address4)
    lab6 = amap.lab_address(link.child_end.address6)
    assert lab4 in LAB4 and lab6 in LAB6
    # the two ends of a /31 stay the two ends of one lab /31
    peer4 = amap.lab_address(link.parent_end.address4)
    assert abs(int(lab4) - int(peer4)) == 1
    with pytest.raises(LabError, match="not in the lab's slice"):
        amap.lab_address("10.47.255.1")


def test_offset_mapping_for_plans_that_fit() -> None:
    amap = AddressMap.build(IPv4Network("10.20.0.0/16"), IPv6Network("2001:da8:1234::/48"))
    assert (amap.mode4, amap.mode6) == ("offset", "offset")
    assert str(amap.lab_address("10.20.3.7")) == "198.18.3.7"
    assert str(amap.lab_address("2001:da8:1234:5::1")) == "2001:db8:0:5::1"
    with pytest.raises(LabError, match="outside the estate's address plan"):
        amap.lab_address("10.21.0.1")


def test_select_nodes_respects_the_slice(small: Estate) -> None:
    nodes = select_nodes(small, Slice(counties=1, townships=2, villages=0))
    assert [n.level for n in nodes] == ["city", "county", "township", "township"]


def test_negative_slice_is_a_clear_error() -> None:
    with pytest.raises(LabError, match="--counties: expected 0 or more"):
        Slice(counties=-1)


def test_more_hosts_visit_every_zone_before_repeating_one(small: Estate) -> None:
    plan = plan_slice(small, Slice(hosts=7), "t000")
    zones = [h.zone for h in plan.hosts if h.zone]
    assert sorted(zones) == sorted(z.name for z in small.zones)
