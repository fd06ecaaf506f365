"""Differential test: the fast path reads every frame exactly as scapy does.

For every frame of the test captures (the synthetic mixed traffic, the attack
scenarios, and hand-made edge cases: QinQ, IPv4 options and fragments, IPv6
extension header chains, ICMP errors, other protocols) the addresses, ports,
flags and ICMP types the fast path returns must equal scapy's full
dissection. Frames the fast path rejects must be ones whose headers claim
more bytes than the frame holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_RR
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoRequest,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    _ICMPv6,
)
from scapy.layers.ipsec import AH
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether
from scapy.packet import Packet, Raw

from monitors.packets.capture import PcapWriter, read_capture
from monitors.packets.decode import MalformedPacket, decode, decode_arp, ip_text, mac_text
from monitors.packets.synthetic import hosts_in, mixed_traffic
from tests.packets import scenarios

IPV6_EXTENSIONS = (IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, AH)


def edge_cases() -> list[Packet]:
    a, b = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
    v4 = IP(src="198.18.0.10", dst="198.18.8.10")
    v6 = IPv6(src="2001:db8:3900::a", dst="2001:db8:3900:800::a")
    return [
        Ether(src=a, dst=b) / Dot1AD(vlan=10) / Dot1Q(vlan=20) / v4 / TCP(dport=443, flags="S"),
        Ether(src=a, dst=b) / Dot1Q(vlan=30) / v6 / UDP(sport=5353, dport=53),
        Ether(src=a, dst=b) / Dot1Q(vlan=40) / ARP(op=1, psrc="198.18.0.10", pdst="198.18.0.1"),
        Ether(src=a, dst=b)
        / IP(src="198.18.0.10", dst="198.18.8.10", options=[IPOption_RR()])
        / TCP(sport=1, dport=2, flags="FPU"),
        Ether(src=a, dst=b)
        / IP(src="198.18.0.10", dst="198.18.8.10", flags="MF", frag=0)
        / UDP(sport=7, dport=9)
        / Raw(b"x" * 40),
        Ether(src=a, dst=b)
        / IP(src="198.18.0.10", dst="198.18.8.10", frag=185, proto=17)
        / Raw(b"y" * 40),
        Ether(src=a, dst=b)
        / v4
        / ICMP(type=3, code=3)
        / IP(src="198.18.8.10", dst="198.18.0.10")
        / UDP(sport=53, dport=40000),
        Ether(src=a, dst=b) / v6 / ICMPv6DestUnreach(code=4) / IPv6() / UDP(),
        Ether(src=a, dst=b)
        / v6
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrDestOpt()
        / IPv6ExtHdrRouting(addresses=["2001:db8:3900::1"])
        / TCP(sport=9, dport=22, flags="SA"),
        Ether(src=a, dst=b) / v6 / AH(nh=6, payloadlen=4, icv=b"\x00" * 12) / TCP(dport=80),
        Ether(src=a, dst=b) / v6 / IPv6ExtHdrFragment(offset=0, m=1) / ICMPv6EchoRequest(),
        Ether(src=a, dst=b) / v6 / IPv6ExtHdrFragment(offset=100, nh=6) / Raw(b"z" * 24),
        Ether(src=a, dst=b) / IP(src="198.18.0.10", dst="198.18.8.10", proto=47) / Raw(b"gre!"),
        Ether(src=a, dst=b, type=0x88CC) / Raw(b"lldp" * 10),
    ]


def scapy_view(frame: bytes) -> dict[str, Any]:
    """What the fast path must read, taken from scapy's full dissection."""
    packet = Ether(frame)
    view: dict[str, Any] = {"eth_src": packet.src, "eth_dst": packet.dst, "vlan": -1}
    layer = packet.payload
    while isinstance(layer, Dot1Q | Dot1AD):
        if view["vlan"] == -1:
            view["vlan"] = layer.vlan
        layer = layer.payload
    view.update(version=0, src="", dst="", proto=-1, sport=-1, dport=-1, flags=0, type=-1, code=-1)
    if isinstance(layer, ARP):
        view["arp"] = (layer.op, layer.hwsrc, layer.psrc, layer.hwdst, layer.pdst)
        return view
    if isinstance(layer, IP):
        view.update(version=4, src=layer.src, dst=layer.dst, proto=layer.proto)
        layer = layer.payload
    elif isinstance(layer, IPv6):
        view.update(version=6, src=layer.src, dst=layer.dst, proto=layer.nh)
        layer = layer.payload
        while isinstance(layer, IPV6_EXTENSIONS):
            view["proto"] = layer.nh
            if isinstance(layer, AH) and isinstance(layer.payload, Raw) and layer.nh in (6, 17):
                # scapy stops at AH; ask it to dissect what AH authenticates.
                layer = (TCP if layer.nh == 6 else UDP)(bytes(layer.payload))
                break
            layer = layer.payload
    else:
        return view
    if isinstance(layer, TCP | UDP):
        view.update(sport=layer.sport, dport=layer.dport)
        if isinstance(layer, TCP):
            view["flags"] = int(layer.flags)
    elif isinstance(layer, ICMP | _ICMPv6):
        view.update(type=layer.type, code=layer.code)
    return view


def fast_view(frame: bytes) -> dict[str, Any]:
    packet = decode(frame)
    view: dict[str, Any] = {
        "eth_src": mac_text(packet.eth_src),
        "eth_dst": mac_text(packet.eth_dst),
        "vlan": packet.vlan,
        "version": packet.version,
        "src": ip_text(packet.src) if packet.src else "",
        "dst": ip_text(packet.dst) if packet.dst else "",
        "proto": packet.proto,
        "sport": packet.sport,
        "dport": packet.dport,
        "flags": packet.tcp_flags,
        "type": packet.icmp_type,
        "code": packet.icmp_code,
    }
    if packet.ethertype == 0x0806:
        arp = decode_arp(packet)
        view["arp"] = (
            arp.op,
            mac_text(arp.sender_mac),
            ip_text(arp.sender_ip),
            mac_text(arp.target_mac),
            ip_text(arp.target_ip),
        )
        for key in ("version", "src", "dst", "proto", "sport", "dport", "flags", "type", "code"):
            view[key] = {"src": "", "dst": ""}.get(key, 0 if key in ("version", "flags") else -1)
    return view


def claims_more_than_it_holds(frame: bytes) -> bool:
    """The IP header's length field (or the header itself) runs past the frame."""
    l3 = 14
    while frame[l3 - 2 : l3] in (b"\x81\x00", b"\x88\xa8"):
        l3 += 4
    ethertype = frame[l3 - 2 : l3]
    if ethertype == b"\x08\x00":
        claimed = int.from_bytes(frame[l3 + 2 : l3 + 4], "big") if len(frame) >= l3 + 4 else 1 << 16
    elif ethertype == b"\x86\xdd":
        claimed = (
            40 + int.from_bytes(frame[l3 + 4 : l3 + 6], "big") if len(frame) >= l3 + 6 else 1 << 16
        )
    else:
        return len(frame) < l3
    return claimed > len(frame) - l3


@pytest.fixture(scope="module")
def test_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pcap of everything the differential test covers (read back by our reader)."""
    clients = hosts_in("198.18.136.0/26", "2001:db8:3900:8800::/64", 12, 0x100)
    servers = hosts_in("198.18.8.0/24", "2001:db8:3900:800::/64", 4, 0x200)
    frames = [f for _, f in mixed_traffic(clients, servers, 250, seed=7)]
    frames += [bytes(p) for p in scenarios.all_frames() + edge_cases()]
    path = tmp_path_factory.mktemp("pcaps") / "differential.pcap"
    with PcapWriter(path) as writer:
        for index, frame in enumerate(frames):
            writer.write(1_700_000_000 + index / 1000, frame)
    return path


def test_fast_path_reads_every_frame_as_scapy_does(test_capture: Path) -> None:
    checked = rejected = 0
    for _, frame, _ in read_capture(test_capture):
        try:
            ours = fast_view(frame)
        except MalformedPacket:
            assert claims_more_than_it_holds(frame), frame.hex()
            rejected += 1
            continue
        assert ours == scapy_view(frame), frame.hex()
        checked += 1
    assert checked > 3000
    assert rejected >= 1  # the synthetic mix carries a few truncated frames


@pytest.mark.parametrize("frame", [bytes(p) for p in edge_cases()], ids=lambda f: f[12:14].hex())
def test_edge_cases_match_scapy(frame: bytes) -> None:
    assert fast_view(frame) == scapy_view(frame)


def test_vlan_and_extension_header_details() -> None:
    qinq = decode(bytes(edge_cases()[0]))
    assert (qinq.vlan, qinq.dport, qinq.tcp_flags) == (10, 443, 0x02)
    chain = decode(bytes(edge_cases()[8]))
    assert (chain.proto, chain.sport, chain.dport) == (6, 9, 22)
    later_fragment = decode(bytes(edge_cases()[11]))
    assert (later_fragment.proto, later_fragment.l4, later_fragment.sport) == (6, -1, -1)
