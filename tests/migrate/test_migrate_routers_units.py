"""The routers' part of the migration: its plan, its FRR text, its judgements
(rendered from the small estate's routing; no lab needed)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from estate import load
from estate.ipv6 import RaFlags
from estate.routing import render_frr, router_routing
from playbooks.migration import HostTarget, Target, canaries, plan
from playbooks.migration_routers import (
    MigrationRouter,
    RouterSeen,
    Segment6,
    ipv4_only_findings,
    pieces_in,
    render,
    router_findings,
    undo_commands,
)

SMALL = Path(__file__).resolve().parents[2] / "examples" / "small.yaml"
SLAAC = RaFlags(managed=False, other=False, autonomous=True)
STATEFUL = RaFlags(managed=True, other=True, autonomous=False)


def _router(node: str = "hl", ra: RaFlags = SLAAC) -> MigrationRouter:
    estate = load(SMALL)
    routing = router_routing(estate, node)
    lan = routing.interfaces[0].name
    return MigrationRouter(
        node,
        estate.node(node).level,
        routing.to_dict(),
        (Segment6(lan, ("2001:db8:0:8800::1/64", "2001:db8:0:8800::2/64"), ra),),
        ("up-p", "up-b"),
        "198.18.12.1/22",
    )


def _host(name: str, stage: str, router: str) -> HostTarget:
    return HostTarget(name, stage, router, "198.18.0.2/24", "2001:db8::2/64", "2001:db8::1")


def test_each_stage_migrates_its_routers_then_its_hosts_each_with_a_canary() -> None:
    city, hl = replace(_router(), name="py", stage="city"), _router()
    qf = replace(_router(), name="qf")
    targets: list[Target] = [_host("k1", "county", "hl"), _host("c1", "city", "py"), hl, qf, city]
    batches = plan(targets, size=4)
    assert [[t.name for t in b] for b in batches] == [["py"], ["c1"], ["hl"], ["qf"], ["k1"]]
    assert canaries(batches) == [True, True, True, False, True]
    # A host as the canary makes its router the stage's router canary.
    named = plan(targets, stage="county", canary="k1")
    assert [[t.name for t in b] for b in named] == [["hl"], ["qf"], ["k1"]]
    first = plan(targets, stage="county", canary="qf")[0]
    assert [t.name for t in first] == ["qf"]


def test_no_pieces_is_the_estates_ipv4_routing_and_all_of_them_add_prefix_ra_ospf6() -> None:
    router = _router()
    routing = replace(router_routing(load(SMALL), "hl"), ospf6=False)
    assert render(router, []) == render_frr(routing, hostname="hl")
    assert "ospf6" not in render(router, [])
    full = render(router, ["prefix", "ra", "ospf6"])
    lan = full.split(f"interface {router.segments[0].interface}\n")[1].split("exit")[0]
    assert " ipv6 address 2001:db8:0:8800::1/64\n ipv6 address 2001:db8:0:8800::2/64\n" in lan
    assert " ipv6 nd prefix 2001:db8:0:8800::/64\n no ipv6 nd suppress-ra\n" in lan
    assert " ipv6 ospf6 area 0" in lan and "\nrouter ospf6\n" in full
    assert pieces_in(router, full) == ["prefix", "ra", "ospf6"]
    assert pieces_in(router, render(router, ["ra"])) == ["ra"]


def test_a_dhcpv6_stateful_lan_advertises_m_and_o_and_no_autoconfig() -> None:
    text = render(_router(ra=STATEFUL), ["ra"])
    assert " ipv6 nd prefix 2001:db8:0:8800::/64 no-autoconfig\n" in text
    assert " ipv6 nd managed-config-flag\n ipv6 nd other-config-flag\n" in text


def _seen(**changes: Any) -> RouterSeen:
    good = RouterSeen(
        addresses6=frozenset({"2001:db8:0:8800::1/64", "2001:db8:0:8800::2/64"}),
        pieces=("prefix", "ra", "ospf6"),
        full6=frozenset({"up-p", "up-b"}),
        ra={"hl-lan": (False, False)},
        ping6="",
        ping4="",
    )
    return replace(good, **changes)


def test_a_router_gate_names_each_thing_seen_wrong() -> None:
    router = replace(_router(), segments=(replace(_router().segments[0], interface="hl-lan"),))
    assert router_findings(router, _seen()) == []
    findings = router_findings(
        router,
        _seen(
            addresses6=frozenset({"2001:db8:0:8800::1/64"}),
            full6=frozenset({"up-p"}),
            ra={"hl-lan": (True, False)},
            ping6="Destination unreachable",
        ),
    )
    assert findings == [
        "hl-lan: no IPv6 prefix 2001:db8:0:8800::2/64",
        "hl-lan: RA flags M=1 O=0, the estate declares M=0 O=0",
        "up-b: OSPFv3 neighbour not Full",
        "ping6 2001:db8:0:8800::1 from the NMS: Destination unreachable",
    ]
    assert router_findings(router, _seen(ra={})) == ["hl-lan: sends no Router Advertisements"]


def test_a_rolled_back_router_must_have_no_ipv6_left_and_answer_ipv4() -> None:
    router = replace(_router(), segments=(replace(_router().segments[0], interface="hl-lan"),))
    clean = _seen(addresses6=frozenset(), pieces=(), full6=frozenset(), ra={})
    assert ipv4_only_findings(router, clean) == []
    assert ipv4_only_findings(router, _seen(ping4="100% packet loss")) == [
        "still has 2001:db8:0:8800::1/64",
        "still has 2001:db8:0:8800::2/64",
        "still runs prefix",
        "still runs ra",
        "still runs ospf6",
        "hl-lan: still sends Router Advertisements",
        "IPv4 ping 198.18.12.1: 100% packet loss",
    ]


def test_a_rollback_is_one_vtysh_file_taking_back_only_its_pieces_ra_before_addresses() -> None:
    router = _router(ra=STATEFUL)
    lan = router.segments[0].interface
    undo = undo_commands(router, ["prefix", "ra", "ospf6"]).splitlines()
    assert undo[0] == "no router ospf6"
    body = undo[undo.index(f"interface {lan}") + 1 : undo.index("exit")]
    assert body[:4] == [
        " no ipv6 nd prefix 2001:db8:0:8800::/64 no-autoconfig",
        " ipv6 nd suppress-ra",
        " no ipv6 nd managed-config-flag",
        " no ipv6 nd other-config-flag",
    ]
    assert body[4:6] == [
        " no ipv6 address 2001:db8:0:8800::1/64",
        " no ipv6 address 2001:db8:0:8800::2/64",
    ]
    assert " no ipv6 ospf6 area 0" in body
    only_ra = undo_commands(router, ["ra"])
    assert "ospf6" not in only_ra and "ipv6 address" not in only_ra
    assert " ipv6 nd suppress-ra\n" in only_ra
