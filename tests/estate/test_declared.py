"""What a LAN declares: device MACs and link-locals, DHCP servers, sensors.

Each rule has a failing fixture and the exact one line it must print; the
accepted forms show what the model then exposes.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import pytest

from tests.estate.helpers import dump, load_ok, mutated, node, problems_of, small_data

Edit = Callable[[dict[str, Any]], object]
VRRP = "00:00:5e:00:01:0a"


def _device(node_id: str, index: int, **values: Any) -> Edit:
    return lambda d: node(d, node_id)["devices"][index].update(values)


def _node(node_id: str, **values: Any) -> Edit:
    return lambda d: node(d, node_id).update(values)


def _zone(index: int, **values: Any) -> Edit:
    return lambda d: d["zones"][index].update(values)


def _sensors(*sensors: dict[str, str]) -> Edit:
    return lambda d: d["monitoring"].update(sensors=list(sensors))


def _both(*edits: Edit) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        for e in edits:
            e(data)

    return edit


HL = "extranet.nodes[1]"  # 华龙区: LAN 10.40.128.0/22 and 2001:db8:3900:8800::/64
CASES: list[tuple[str, Edit, str]] = [
    (
        "MAC too short",
        _device("hl", 0, lan_macs=["70:7b:e8:00:10"]),
        f"{HL}.devices[0].lan_macs[0]: expected a MAC address like 70:7b:e8:00:10:01, "
        "found '70:7b:e8:00:10'",
    ),
    (
        "MAC not hex",
        _device("hl", 0, lan_macs=["70:7b:e8:00:10:zz"]),
        f"{HL}.devices[0].lan_macs[0]: expected a MAC address like 70:7b:e8:00:10:01, "
        "found '70:7b:e8:00:10:zz'",
    ),
    (
        "multicast MAC",
        _device("hl", 0, lan_macs=["01:00:5e:00:00:01"]),
        f"{HL}.devices[0].lan_macs[0]: 01:00:5e:00:00:01 is a multicast/broadcast MAC, "
        "not a device's address",
    ),
    (
        "zero MAC",
        _device("hl", 0, lan_macs=["0000.0000.0000"]),
        f"{HL}.devices[0].lan_macs[0]: 00:00:00:00:00:00 is not a device's address",
    ),
    (
        "MAC twice on a device",
        _device("hl", 0, lan_macs=["70:7b:e8:00:10:01", "70-7B-E8-00-10-01"]),
        f"{HL}.devices[0].lan_macs[1]: duplicate MAC 70:7b:e8:00:10:01",
    ),
    (
        "MAC of another device",
        _both(
            _device("hl", 0, lan_macs=["70:7b:e8:00:10:01"]),
            _device("qf-mzq", 0, lan_macs=["707b.e800.1001"]),
        ),
        "extranet.nodes[7].devices[0].lan_macs[0]: 70:7b:e8:00:10:01 is already hl-agg-1's MAC "
        "(only VRRP virtual MACs 00:00:5e:00:01:xx / 00:00:5e:00:02:xx are shared)",
    ),
    (
        "link-local not link-local",
        _device("hl", 1, link_local="2001:db8:3900:8800::2"),
        f"{HL}.devices[1].link_local: expected a link-local address (fe80::/10), "
        "found 2001:db8:3900:8800::2",
    ),
    (
        "link-local not an address",
        _device("hl", 1, link_local="fe80::zz"),
        f"{HL}.devices[1].link_local: input is not a valid IPv6 address, found 'fe80::zz'",
    ),
    (
        "link-local twice on a LAN",
        _device("hl", 1, link_local="fe80::1"),
        f"{HL}.devices[1].link_local: link-local fe80::1 is also hl-agg-1's on this LAN",
    ),
    (
        "explicit link-local takes the next device's default",
        _device("hl", 0, link_local="fe80::2"),
        f"{HL}.devices[1]: link-local fe80::2 is also hl-agg-1's on this LAN "
        "(the default fe80::N; set link_local)",
    ),
    (
        "DHCP server not an address",
        _node("hl", dhcp_servers=["dhcp.example"]),
        f"{HL}.dhcp_servers[0]: expected an IPv4 or IPv6 address, found 'dhcp.example'",
    ),
    (
        "DHCP server off the node's LAN",
        _node("hl", dhcp_servers=["10.35.192.53"]),
        f"{HL}.dhcp_servers[0]: 10.35.192.53 is outside this node's LAN (10.40.128.0/22)",
    ),
    (
        "DHCPv6 server off the node's LAN",
        _node("hl", dhcp_servers=["2001:db8:3900:c000::53"]),
        f"{HL}.dhcp_servers[0]: 2001:db8:3900:c000::53 is outside this node's LAN "
        "(2001:db8:3900:8800::/64)",
    ),
    (
        "DHCP server twice",
        _node("hl", dhcp_servers=["10.40.128.5", "10.40.128.5"]),
        f"{HL}.dhcp_servers[1]: duplicate address 10.40.128.5",
    ),
    (
        "DHCP server outside its zone",
        _zone(2, dhcp_servers=["10.40.128.5"]),
        "zones[2].dhcp_servers[0]: 10.40.128.5 is outside zone 'exchange' (10.32.128.0/18)",
    ),
    (
        "DHCP server in the internet zone",
        _zone(1, dhcp_servers=["192.0.2.53"]),
        "zones[1].dhcp_servers: zone 'internet' has no prefixes to hold DHCP servers",
    ),
    (
        "sensor on an unknown node",
        _sensors({"name": "s1", "node": "nowhere", "interface": "eth1"}),
        "monitoring.sensors[0].node: no node with id 'nowhere'",
    ),
    (
        "sensor name twice",
        _sensors(
            {"name": "s1", "node": "hl", "interface": "eth1"},
            {"name": "s1", "node": "qf", "interface": "eth1"},
        ),
        "monitoring.sensors[1].name: duplicate sensor name 's1'",
    ),
    (
        "two sensors on one interface",
        _sensors(
            {"name": "s1", "node": "hl", "interface": "eth1"},
            {"name": "s2", "node": "hl", "interface": "eth1"},
        ),
        "monitoring.sensors[1].interface: sensor 's1' already listens on eth1 at hl",
    ),
    (
        "sensor without interface",
        _sensors({"name": "s1", "node": "hl"}),
        "monitoring.sensors[0].interface: required, missing",
    ),
]


@pytest.mark.parametrize(("name", "edit", "line"), CASES, ids=[c[0] for c in CASES])
def test_declaration_rule_prints_exactly_one_line(name: str, edit: Edit, line: str) -> None:
    problems = problems_of(mutated(edit))
    assert len(problems) == 1, problems
    assert problems[0].split(": ", 1)[1] == line, problems
    assert problems[0].startswith("t.yaml:")


def test_problem_points_at_the_line_of_the_bad_mac() -> None:
    text = dump(small_data()).replace(
        "- name: qf-agg-1\n", "- name: qf-agg-1\n      lan_macs: [02:00:5e:10:00:zz]\n", 1
    )
    expected = next(i for i, line in enumerate(text.splitlines(), 1) if ":zz]" in line)
    (problem,) = problems_of(text)
    assert problem.startswith(f"t.yaml:{expected}: extranet.nodes[5].devices[0].lan_macs[0]:")


def test_macs_in_any_cli_form_are_one_mac() -> None:
    estate = load_ok(
        mutated(
            _both(
                _device("hl", 0, lan_macs=["70-7B-E8-00-10-01", VRRP]),
                _device("hl", 1, lan_macs=["707b.e800.1002", VRRP]),
                _device("qf", 0, lan_macs=["707BE8001003"]),
                _device("qf", 1, lan_macs=[VRRP]),  # the same VRID on another LAN
            )
        )
    )
    assert estate.device("hl-agg-1").lan_macs == ("70:7b:e8:00:10:01", VRRP)
    assert estate.device("hl-agg-2").lan_macs == ("70:7b:e8:00:10:02", VRRP)
    assert estate.device("qf-agg-1").lan_macs == ("70:7b:e8:00:10:03",)
    assert estate.device("py-core-1").lan_macs == ()


def test_unquoted_mac_is_not_a_base60_number() -> None:
    # YAML 1.1 would read 52:54:00:12:34:56 as the integer 684_558_756_896.
    text = dump(small_data()).replace(
        "- name: qf-agg-1\n", "- name: qf-agg-1\n      lan_macs: [52:54:00:12:34:56]\n", 1
    )
    assert "lan_macs: [52:54:00:12:34:56]" in text
    assert load_ok(text).device("qf-agg-1").lan_macs == ("52:54:00:12:34:56",)


def test_link_locals_default_to_fe80_n_and_explicit_wins() -> None:
    estate = load_ok(mutated(_device("hl", 1, link_local="FE80::A:2")))
    assert estate.device("hl-agg-1").link_local == IPv6Address("fe80::1")
    assert estate.device("hl-agg-2").link_local == IPv6Address("fe80::a:2")
    assert estate.device("py-core-2").link_local == IPv6Address("fe80::2")
    assert estate.device("hl-zyl-v001-r1").link_local == IPv6Address("fe80::1")


def test_dhcp_servers_unset_empty_or_declared() -> None:
    relay6 = "fe80::1"  # a DHCPv6 relay answers from its link-local
    estate = load_ok(
        mutated(
            _both(
                _node("hl", dhcp_servers=["10.40.128.1", "2001:db8:3900:8800::5", relay6]),
                _node("qf", dhcp_servers=[]),
                _zone(3, dhcp_servers=["10.35.192.2", "fe80::f816:3eff:fe00:2"]),
            )
        )
    )
    assert estate.node("hl").dhcp_servers == (
        IPv4Address("10.40.128.1"),
        IPv6Address("2001:db8:3900:8800::5"),
        IPv6Address(relay6),
    )
    assert estate.node("qf").dhcp_servers == ()
    assert estate.node("py").dhcp_servers is None
    assert estate.zone("management").dhcp_servers == tuple(
        ip_address(a) for a in ("10.35.192.2", "fe80::f816:3eff:fe00:2")
    )
    assert estate.zone("exchange").dhcp_servers is None


def test_sensors_are_in_the_model() -> None:
    estate = load_ok(
        mutated(
            _sensors(
                {"name": "hl-tap", "node": "hl", "interface": "eth1"},
                {"name": "village", "node": "hl-zyl-v002", "interface": "eth1"},
            )
        )
    )
    assert [(s.name, s.node, s.interface) for s in estate.sensors] == [
        ("hl-tap", "hl", "eth1"),
        ("village", "hl-zyl-v002", "eth1"),
    ]
    assert estate.sensor("hl-tap").node == "hl"
    assert [s.name for s in load_ok(dump(small_data())).sensors] == ["hl-tap"]
