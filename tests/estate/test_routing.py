"""The routing the estate derives for a router, and its one FRR rendering."""

from __future__ import annotations

from estate import load
from estate.routing import Bfd, RouterRouting, render_frr, router_routing

SMALL = "examples/small.yaml"


def test_a_county_router_prefers_its_primary_uplink_and_keeps_its_lan_passive() -> None:
    estate = load(SMALL)
    county = estate.nodes(level="county")[0]
    routing = router_routing(estate, county.id)
    assert routing.router_id == str(county.gateway4)
    pair = next(p for p in estate.link_pairs(level="county") if p.node == county.id)
    ids = (pair.primary.id, pair.backup.id)
    uplinks = {i.role: i for i in routing.interfaces if i.link in ids}
    assert uplinks["primary"].name == pair.primary.child_end.interface
    assert (uplinks["primary"].cost, uplinks["backup"].cost) == (10, 100)
    assert uplinks["primary"].bfd and uplinks["backup"].bfd
    lan = routing.interfaces[0]
    assert lan.cost is None
    text = render_frr(routing, hostname=county.id)
    assert f" ospf router-id {county.gateway4}" in text
    assert f" ospf6 router-id {county.gateway4}" in text
    assert f"interface {lan.name}\n ip ospf area 0\n ipv6 ospf6 area 0\n ip ospf passive" in text


def test_bfd_timers_are_written_only_where_they_differ_from_frr_defaults() -> None:
    estate = load(SMALL)
    node = estate.nodes(level="county")[0].id
    default = render_frr(router_routing(estate, node), hostname=node)
    fast = render_frr(router_routing(estate, node, Bfd(100, 3)), hostname=node)
    # FRR's running configuration omits defaults: frr-reload.py must see none to add.
    assert "transmit-interval" not in default
    assert "  transmit-interval 100\n  receive-interval 100\n" in fast
    assert "detect-multiplier" not in fast


def test_routing_survives_the_trip_through_an_inventory() -> None:
    estate = load(SMALL)
    routing = router_routing(estate, estate.nodes(level="township")[0].id)
    assert RouterRouting.from_dict(routing.to_dict()) == routing


def test_a_router_without_routing_renders_no_ospf() -> None:
    text = render_frr(RouterRouting("py", "198.18.0.1", ()), hostname="py", preamble=("agentx",))
    assert "router ospf" not in text and "bfd" not in text and "agentx" in text
