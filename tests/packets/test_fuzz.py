"""Hostile input: malformed, truncated and fuzzed frames never stop the sensor.

Every frame is accounted for (seen = parsed + malformed), the ones that are
bad by construction are counted as malformed, and decode raises nothing but
MalformedPacket.
"""

from __future__ import annotations

import contextlib
import random
import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dhcp6 import DHCP6_Advertise, DHCP6OptServerId
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6ND_RA,
    ICMPv6NDOptPrefixInfo,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
)
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Packet, fuzz

from monitors.packets import MalformedPacket, Sensor, SensorPolicy, decode
from tests.packets import scenarios

MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


def feed(policy: SensorPolicy, frames: list[bytes]) -> Sensor:
    sensor = Sensor(policy, observer="fuzz")
    for index, frame in enumerate(frames):
        sensor.feed(2_000.0 + index * 0.001, frame, len(frame))
    stats = sensor.stats
    assert stats.seen == len(frames)
    assert stats.parsed + stats.malformed == stats.seen
    assert stats.detection_errors == 0, stats.first_error
    return sensor


def test_scapy_fuzzed_packets(policy: SensorPolicy) -> None:
    templates: list[Packet] = [
        Ether(src=MAC_A, dst=MAC_B) / fuzz(IP(dst="198.18.0.20") / TCP()),
        Ether(src=MAC_A, dst=MAC_B) / fuzz(IP(dst="198.18.0.20") / UDP()),
        Ether(src=MAC_A, dst=MAC_B) / fuzz(IP(dst="198.18.0.20") / ICMP()),
        Ether(src=MAC_A, dst=MAC_B) / fuzz(IPv6(dst="2001:db8:3900::a") / TCP()),
        Ether(src=MAC_A, dst=MAC_B)
        / fuzz(IPv6(dst="2001:db8:3900::a") / IPv6ExtHdrDestOpt() / UDP()),
        Ether(src=MAC_A, dst=MAC_B) / fuzz(IPv6() / IPv6ExtHdrFragment() / TCP()),
        Ether(src=MAC_A, dst=MAC_B) / fuzz(ARP()),
        Ether(src=MAC_A, dst=MAC_B) / Dot1Q() / fuzz(ARP()),
        Ether(src=MAC_A, dst=MAC_B) / IPv6() / fuzz(ICMPv6ND_RA() / ICMPv6NDOptPrefixInfo()),
        Ether(src=MAC_A, dst=MAC_B) / IP() / UDP(sport=67, dport=68) / fuzz(BOOTP() / DHCP()),
        Ether(src=MAC_A, dst=MAC_B)
        / IPv6()
        / UDP(sport=547, dport=546)
        / fuzz(DHCP6_Advertise() / DHCP6OptServerId()),
    ]
    frames = [bytes(template) for template in templates for _ in range(150)]
    sensor = feed(policy, frames)
    assert sensor.stats.malformed > 0  # fuzzed lengths and offsets are mostly bogus
    assert sensor.stats.parsed > 0


def test_random_bytes(policy: SensorPolicy) -> None:
    rng = random.Random(5)
    frames = [rng.randbytes(rng.randint(0, 300)) for _ in range(3000)]
    # Random bytes with a valid IPv4 or IPv6 ethertype, to get past Ethernet.
    for ethertype in (b"\x08\x00", b"\x86\xdd", b"\x08\x06", b"\x81\x00"):
        frames += [
            rng.randbytes(12) + ethertype + rng.randbytes(rng.randint(0, 120)) for _ in range(500)
        ]
    sensor = feed(policy, frames)
    assert sensor.stats.malformed > 1000


def test_every_truncation_of_every_scenario_frame(policy: SensorPolicy) -> None:
    frames = [bytes(p) for p in scenarios.all_frames()]
    truncated = [frame[:cut] for frame in frames for cut in range(len(frame))]
    sensor = feed(policy, truncated)
    # Anything shorter than Ethernet + the smallest header is malformed.
    short = sum(1 for f in truncated if len(f) < 14 + 20)
    assert sensor.stats.malformed >= short


def _ipv4(header: bytes, payload: bytes = b"") -> bytes:
    return bytes(Ether(src=MAC_A, dst=MAC_B, type=0x0800)) + header + payload


def test_bogus_lengths_are_counted_as_malformed(policy: SensorPolicy) -> None:
    good = bytes(IP(src="198.18.0.10", dst="198.18.8.10") / TCP(dport=22, flags="S"))
    bogus: list[bytes] = []
    for ihl in (0, 1, 4):  # header length below 20 bytes
        bogus.append(_ipv4(bytes([0x40 | ihl]) + good[1:]))
    bogus.append(_ipv4(bytes([0x4F]) + good[1:]))  # 60-byte header in a 40-byte packet
    for total in (0, 19):  # total length shorter than the header
        bogus.append(_ipv4(good[:2] + struct.pack("!H", total) + good[4:]))
    bogus.append(_ipv4(good[:2] + struct.pack("!H", 24) + good[4:]))  # TCP cut by total length
    bogus.append(_ipv4(good[:32] + bytes([0x20]) + good[33:]))  # TCP data offset 2
    v6 = bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrDestOpt() / UDP())
    bogus.append(_ipv4(v6[:40] + bytes([17, 200]) + v6[42:]).replace(b"\x08\x00", b"\x86\xdd", 1))
    bogus.append(_ipv4(v6[:4] + struct.pack("!H", 2) + v6[6:]).replace(b"\x08\x00", b"\x86\xdd", 1))
    bogus.append(_ipv4(b"\x60" + good[1:]))  # IPv6 version nibble under an IPv4 ethertype
    for frame in bogus:
        try:
            decode(frame)
        except MalformedPacket:
            continue
        raise AssertionError(f"accepted a bogus frame: {frame.hex()}")
    sensor = feed(policy, bogus)
    assert sensor.stats.malformed == len(bogus)


def test_router_advert_with_zero_length_option_is_survived(policy: SensorPolicy) -> None:
    ra = bytes(
        Ether(src=MAC_A, dst=MAC_B)
        / IPv6(src="fe80::99", dst="ff02::1")
        / ICMPv6ND_RA()
        / ICMPv6NDOptPrefixInfo()
    )
    # Zero the prefix option's length byte: a reader that trusts it loops forever.
    broken = ra[: 14 + 40 + 16 + 1] + b"\x00" + ra[14 + 40 + 16 + 2 :]
    sensor = feed(policy, [broken])
    assert [e.rule_id for e in sensor.events] == ["ywpkt-ra-undeclared-router"]


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=200))
def test_decode_raises_only_malformed(frame: bytes) -> None:
    with contextlib.suppress(MalformedPacket):
        decode(frame)
