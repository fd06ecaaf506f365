"""The estate alone, no overlay: declared gateway MACs, router link-locals and
DHCP servers decide what is quiet and what is flagged, from the first packet.

The county 测试县 (tx) of tests/packets/estate.yaml declares its gateway
pair: tx-agg-1 (MAC GW_MAC, VRRP MAC, link-local fe80::a1) and tx-agg-2
(PEER_MAC, the same VRRP MAC, the default link-local fe80::2), a DHCP relay
on its LAN and its link-local; the exchange zone declares its DHCP server.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

import pytest
import yaml
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dhcp6 import DHCP6_Advertise, DHCP6OptClientId, DHCP6OptServerId
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet

from estate import Estate, load, load_text
from monitors.packets import Sensor, SensorPolicy
from monitors.packets.estate_policy import policy_from_estate
from monitors.packets.policy import PolicyError
from tests.packets import scenarios as sc

GW_MAC = "70:7b:e8:00:10:01"
PEER_MAC = "70:7b:e8:00:10:02"
VRRP_MAC = "00:00:5e:00:01:01"
ROGUE_MAC = sc.ATTACKER_MAC
GW_LL = "fe80::a1"
PEER_LL = "fe80::2"  # tx-agg-2's default: the node's second device
ROGUE_LL = "fe80::99"

_PLAIN = load(sc.ESTATE)
TX4: IPv4Network = _PLAIN.node("tx").lan4
TX6: IPv6Network = _PLAIN.node("tx").lan6
GW4, PEER4, RELAY4 = str(TX4[1]), str(TX4[2]), str(TX4[5])
GW6 = str(TX6[1])
EXCHANGE_DHCP4 = str(_PLAIN.zone("exchange").prefix4[2])  # type: ignore[index]
EXCHANGE_ROUTER4 = str(_PLAIN.zone("exchange").prefix4[1])  # type: ignore[index]


def declared_text() -> str:
    data = yaml.safe_load(sc.ESTATE.read_text(encoding="utf-8"))
    tx = next(n for n in data["extranet"]["nodes"] if n["id"] == "tx")
    tx["devices"][0].update(lan_macs=[GW_MAC, VRRP_MAC], link_local=GW_LL)
    tx["devices"][1].update(lan_macs=[PEER_MAC, VRRP_MAC])
    tx["dhcp_servers"] = [RELAY4, GW_LL]
    exchange = next(z for z in data["zones"] if z["name"] == "exchange")
    exchange["dhcp_servers"] = [EXCHANGE_DHCP4]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@pytest.fixture(scope="module")
def declared() -> Estate:
    return load_text(declared_text(), "declared.yaml")


@pytest.fixture
def policy(declared: Estate) -> SensorPolicy:
    return policy_from_estate(declared)


def run(policy: SensorPolicy, frames: Sequence[Packet]) -> Sensor:
    sensor = Sensor(policy, observer="unit")
    for index, frame in enumerate(frames):
        raw = bytes(frame)
        sensor.feed(1_000.0 + index * 0.01, raw, len(raw))
    return sensor


def rules(sensor: Sensor) -> Counter[str]:
    return Counter(e.rule_id or "" for e in sensor.events)


def arp_reply(mac: str, ip: str) -> Packet:
    return Ether(src=mac, dst=sc.VICTIM_MAC) / ARP(op=2, hwsrc=mac, psrc=ip, pdst=str(TX4[20]))


def neighbour_advert(mac: str, target: str) -> Packet:
    return (
        Ether(src=mac, dst="33:33:00:00:00:01")
        / IPv6(src=GW_LL, dst="ff02::1", hlim=255)
        / ICMPv6ND_NA(tgt=target, R=1, S=0, O=1)
        / ICMPv6NDOptDstLLAddr(lladdr=mac)
    )


def offer(server: str, mac: str = ROGUE_MAC) -> Packet:
    return (
        Ether(src=mac, dst="ff:ff:ff:ff:ff:ff")
        / IP(src=server, dst="255.255.255.255")
        / UDP(sport=67, dport=68)
        / BOOTP(op=2, yiaddr=str(TX4[30]))
        / DHCP(options=[("message-type", "offer"), ("server_id", server), "end"])
    )


def advertise(server: str, mac: str = ROGUE_MAC) -> Packet:
    return (
        Ether(src=mac, dst=sc.VICTIM_MAC)
        / IPv6(src=server, dst="fe80::5e:ff:fe00:20")
        / UDP(sport=547, dport=546)
        / DHCP6_Advertise(trid=0x1234)
        / DHCP6OptClientId()
        / DHCP6OptServerId()
    )


def test_the_estate_exposes_what_the_policy_uses(declared: Estate) -> None:
    tx = declared.node("tx")
    assert [d.lan_macs for d in tx.devices] == [(GW_MAC, VRRP_MAC), (PEER_MAC, VRRP_MAC)]
    assert [str(d.link_local) for d in tx.devices] == [GW_LL, PEER_LL]
    assert [str(a) for a in tx.dhcp_servers or ()] == [RELAY4, GW_LL]


def test_declared_gateway_macs_are_quiet(policy: SensorPolicy) -> None:
    frames = [
        arp_reply(GW_MAC, GW4),
        arp_reply(VRRP_MAC, GW4),  # the VRRP pair's virtual MAC answers for the gateway
        arp_reply(PEER_MAC, PEER4),
        neighbour_advert(GW_MAC, GW6),
        neighbour_advert(VRRP_MAC, GW6),
    ]
    assert rules(run(policy, frames)) == Counter()


def test_another_mac_is_flagged_from_the_first_packet(policy: SensorPolicy) -> None:
    sensor = run(policy, [arp_reply(ROGUE_MAC, GW4), arp_reply(GW_MAC, GW4)])
    assert rules(sensor) == Counter({"ywpkt-arp-gateway-claim": 1})
    (event,) = sensor.events
    assert event.message == (
        f"{ROGUE_MAC} claims gateway {GW4} of tx (declared {VRRP_MAC}, {GW_MAC})"
    )
    sensor = run(policy, [neighbour_advert(ROGUE_MAC, GW6)])
    assert rules(sensor) == Counter({"ywpkt-nd-gateway-claim": 1})
    # A device's own address is its own: the gateway's MAC may not claim its peer's.
    assert rules(run(policy, [arp_reply(GW_MAC, PEER4)])) == Counter({"ywpkt-arp-gateway-claim": 1})


def test_without_declared_macs_the_first_claim_would_have_been_trusted() -> None:
    # The contrast that makes declaring worth it: trust on first use learns the forger.
    sensor = run(policy_from_estate(_PLAIN), [arp_reply(ROGUE_MAC, GW4), arp_reply(GW_MAC, GW4)])
    assert rules(sensor) == Counter({"ywpkt-arp-gateway-claim": 1})
    assert sensor.events[0].source is not None and sensor.events[0].source.mac == GW_MAC


def test_router_adverts_from_declared_link_locals_are_quiet(policy: SensorPolicy) -> None:
    unknown_mac = "02:00:00:00:77:77"  # neither declared nor seen: only the link-local speaks
    frames = [
        sc.router_advert(GW_LL, unknown_mac, sc.PLANNED_PREFIX),
        sc.router_advert(PEER_LL, unknown_mac, sc.PLANNED_PREFIX),
        sc.router_advert("fe80::7", PEER_MAC, sc.PLANNED_PREFIX),  # a declared LAN MAC
    ]
    assert rules(run(policy, frames)) == Counter()


def test_router_advert_from_an_undeclared_router_is_flagged(policy: SensorPolicy) -> None:
    sensor = run(policy, [sc.router_advert(ROGUE_LL, ROGUE_MAC, sc.PLANNED_PREFIX)] * 3)
    assert rules(sensor) == Counter({"ywpkt-ra-undeclared-router": 1})
    assert sensor.events[0].message == (
        f"{ROGUE_LL} ({ROGUE_MAC}) advertises itself as a router but is not declared"
    )


def test_declared_dhcp_servers_are_quiet(policy: SensorPolicy) -> None:
    frames = [offer(RELAY4, GW_MAC), advertise(GW_LL, GW_MAC), offer(EXCHANGE_DHCP4)]
    assert rules(run(policy, frames)) == Counter()


def test_undeclared_dhcp_servers_are_flagged(policy: SensorPolicy) -> None:
    # Declaring a node's or zone's DHCP servers replaces the default (the gateway
    # relays): the gateway and the zone's router are no longer trusted to answer.
    frames = [offer(GW4, GW_MAC), advertise(ROGUE_LL), offer(EXCHANGE_ROUTER4)]
    sensor = run(policy, frames)
    assert rules(sensor) == Counter({"ywpkt-dhcp4-rogue-server": 2, "ywpkt-dhcp6-rogue-server": 1})
    servers = sorted(e.source.ip for e in sensor.events if e.source and e.source.ip)
    assert servers == sorted([GW4, ROGUE_LL, EXCHANGE_ROUTER4])


def test_undeclared_nodes_keep_the_gateway_relay_default(policy: SensorPolicy) -> None:
    core = _PLAIN.node("tc").devices[0]
    frames = [offer(str(core.mgmt4)), advertise(str(core.mgmt6)), advertise("fe80::1")]
    assert rules(run(policy, frames)) == Counter()


def test_the_overlay_still_adds_and_overrides(policy: SensorPolicy, tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(f'gateway_macs:\n  {GW4}: "{ROGUE_MAC}"\ndhcp_servers: ["{GW4}"]\n')
    policy.apply_overlay(overlay)
    assert rules(run(policy, [arp_reply(ROGUE_MAC, GW4), offer(GW4)])) == Counter()
    assert rules(run(policy, [arp_reply(GW_MAC, GW4)])) == Counter({"ywpkt-arp-gateway-claim": 1})


def test_an_unquoted_mac_in_the_overlay_is_one_clear_line(
    policy: SensorPolicy, tmp_path: Path
) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(f"gateway_macs:\n  {GW4}: 52:54:00:12:34:56\n")
    with pytest.raises(PolicyError) as caught:
        policy.apply_overlay(overlay)
    assert str(caught.value) == (
        f'{overlay}: gateway_macs.{GW4}: a MAC address must be quoted ("52:54:00:12:34:56")'
    )
