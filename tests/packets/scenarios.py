"""The attack scenarios, as frames, shared by the lab test and the pcap tests.

Addresses come from tests/packets/estate.yaml: 198.18.0.0/22 is the
gov-extranet zone (gateway 198.18.0.1), 198.18.8.0/22 the exchange zone;
the plan's IPv6 /48 is 2001:db8:3900::/48. The attacker sits in
gov-extranet; the victim (the sensor's side) has an address in each zone.
"""

from __future__ import annotations

from pathlib import Path

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dhcp6 import DHCP6_Advertise, DHCP6OptClientId, DHCP6OptServerId
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6ND_NA,
    ICMPv6ND_RA,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet

HERE = Path(__file__).resolve().parent
ESTATE = HERE / "estate.yaml"

ATTACKER_MAC = "02:aa:00:00:00:66"
ATTACKER4 = "198.18.0.66"
ATTACKER6 = "2001:db8:3900::66"
ATTACKER_LL = "fe80::66"
VICTIM_MAC = "02:5e:00:00:00:20"
VICTIM4 = "198.18.0.20"
EXCHANGE4 = "198.18.8.10"
EXCHANGE6 = "2001:db8:3900:800::a"
GATEWAY4 = "198.18.0.1"
GATEWAY6 = "2001:db8:3900::1"
GATEWAY_MAC = "02:00:00:00:00:01"
ROUTER_LL = "fe80::1"
FOREIGN_PREFIX = "2001:db8:bad::"
PLANNED_PREFIX = "2001:db8:3900::"
SCAN_PORTS = range(1000, 1020)
ALLOWED_PORT = 443
FORBIDDEN_PORT = 22

# What the estate cannot declare yet: the gateway's MAC and the router's link-local.
POLICY = f"""\
gateway_macs:
  {GATEWAY4}: {GATEWAY_MAC}
  "{GATEWAY6}": {GATEWAY_MAC}
routers: [{ROUTER_LL}]
"""


def _l2(dst: str = VICTIM_MAC) -> Ether:
    return Ether(src=ATTACKER_MAC, dst=dst)


def syn_scan() -> list[Packet]:
    return [
        _l2() / IP(src=ATTACKER4, dst=VICTIM4) / TCP(sport=40000, dport=port, flags="S")
        for port in SCAN_PORTS
    ]


def forged_gateway_reply() -> list[Packet]:
    return [_l2() / ARP(op=2, hwsrc=ATTACKER_MAC, psrc=GATEWAY4, hwdst=VICTIM_MAC, pdst=VICTIM4)]


def forged_gateway_advert() -> list[Packet]:
    """An unsolicited, overriding neighbour advertisement for the IPv6 gateway."""
    return [
        _l2("33:33:00:00:00:01")
        / IPv6(src=ATTACKER_LL, dst="ff02::1", hlim=255)
        / ICMPv6ND_NA(tgt=GATEWAY6, R=1, S=0, O=1)
        / ICMPv6NDOptDstLLAddr(lladdr=ATTACKER_MAC)
    ]


def router_advert(source: str, mac: str, prefix: str) -> Packet:
    return (
        Ether(src=mac, dst="33:33:00:00:00:01")
        / IPv6(src=source, dst="ff02::1", hlim=255)
        / ICMPv6ND_RA(routerlifetime=1800)
        / ICMPv6NDOptSrcLLAddr(lladdr=mac)
        / ICMPv6NDOptPrefixInfo(prefix=prefix, prefixlen=64, L=1, A=1)
    )


def router_adverts() -> list[Packet]:
    """The declared router with a planned prefix (fine), then a rogue one."""
    return [
        router_advert(ROUTER_LL, GATEWAY_MAC, PLANNED_PREFIX),
        router_advert(ATTACKER_LL, ATTACKER_MAC, FOREIGN_PREFIX),
    ]


def dhcp_answers() -> list[Packet]:
    offer = (
        _l2("ff:ff:ff:ff:ff:ff")
        / IP(src=ATTACKER4, dst="255.255.255.255")
        / UDP(sport=67, dport=68)
        / BOOTP(op=2, yiaddr="198.18.0.99", siaddr=ATTACKER4, chaddr=bytes.fromhex("025e00000020"))
        / DHCP(options=[("message-type", "offer"), ("server_id", ATTACKER4), "end"])
    )
    advertise = (
        _l2()
        / IPv6(src=ATTACKER_LL, dst="fe80::5e:ff:fe00:20")
        / UDP(sport=547, dport=546)
        / DHCP6_Advertise(trid=0x1234)
        / DHCP6OptClientId()
        / DHCP6OptServerId()
    )
    return [offer, advertise]


def cross_zone_handshakes() -> list[Packet]:
    """An allowed (tcp/443) and a forbidden (tcp/22, twice) flow, v4 and v6,
    as the wire shows them: SYN and the server's SYN-ACK."""
    frames: list[Packet] = []
    for src, dst, family in ((ATTACKER4, EXCHANGE4, IP), (ATTACKER6, EXCHANGE6, IPv6)):
        ports = (ALLOWED_PORT, FORBIDDEN_PORT, FORBIDDEN_PORT)
        for index, port in enumerate(ports):
            sport = 50000 + index
            frames.append(
                _l2() / family(src=src, dst=dst) / TCP(sport=sport, dport=port, flags="S")
            )
            frames.append(
                Ether(src=VICTIM_MAC, dst=ATTACKER_MAC)
                / family(src=dst, dst=src)
                / TCP(sport=port, dport=sport, flags="SA")
            )
    return frames


def all_frames() -> list[Packet]:
    return (
        syn_scan()
        + forged_gateway_reply()
        + forged_gateway_advert()
        + router_adverts()
        + dhcp_answers()
        + cross_zone_handshakes()
    )


# (rule id, source ip, destination ip or port) of every event the scenarios must raise.
EXPECTED = sorted(
    [
        ("ywpkt-scan-port", ATTACKER4, VICTIM4),
        ("ywpkt-arp-gateway-claim", GATEWAY4, VICTIM4),
        ("ywpkt-nd-gateway-claim", GATEWAY6, "ff02::1"),
        ("ywpkt-ra-undeclared-router", ATTACKER_LL, None),
        ("ywpkt-ra-foreign-prefix", ATTACKER_LL, None),
        ("ywpkt-dhcp4-rogue-server", ATTACKER4, "255.255.255.255"),
        ("ywpkt-dhcp6-rogue-server", ATTACKER_LL, "fe80::5e:ff:fe00:20"),
        ("ywpkt-zone-forbidden-flow", ATTACKER4, EXCHANGE4),
        ("ywpkt-zone-forbidden-flow", ATTACKER6, EXCHANGE6),
    ],
    key=str,
)


def summary(doc: dict[str, object]) -> tuple[str, str | None, str | None]:
    """An ECS event document reduced to what EXPECTED compares."""
    rule = doc["rule"]
    source = doc.get("source") or {}
    destination = doc.get("destination") or {}
    assert isinstance(rule, dict) and isinstance(source, dict) and isinstance(destination, dict)
    return (rule["id"], source.get("ip"), destination.get("ip"))


def destination_port(doc: dict[str, object]) -> object:
    destination = doc.get("destination") or {}
    assert isinstance(destination, dict)
    return destination.get("port")
