"""The fast path: Ethernet frames as raw bytes to a compact `Packet`.

Full scapy dissection costs 150-600 µs a packet; the detections only need
addresses, ports, flags and ICMP types, which sit at fixed offsets. This
module reads them with `struct.unpack_from` and slices, and leaves the rare
packets a detection must look into (ARP bodies, Router Advertisements, DHCP)
to helpers that run only for those.

Addresses stay raw bytes (4 or 16) on the hot path: hashing and comparing
bytes is cheap, formatting is not. `ip_text` formats them when an event
needs a string. `decode` raises `MalformedPacket` and nothing else.
"""

from __future__ import annotations

import socket
import struct
from typing import Final, NamedTuple

ETH_IPV4: Final = 0x0800
ETH_ARP: Final = 0x0806
ETH_IPV6: Final = 0x86DD
ETH_VLAN: Final = 0x8100
ETH_QINQ: Final = 0x88A8

PROTO_ICMP: Final = 1
PROTO_TCP: Final = 6
PROTO_UDP: Final = 17
PROTO_ICMPV6: Final = 58

TCP_SYN: Final = 0x02
TCP_RST: Final = 0x04
TCP_ACK: Final = 0x10

NO_VLAN: Final = -1
_VLAN_TYPES: Final = frozenset({ETH_VLAN, ETH_QINQ})
_ICMPS: Final = frozenset({PROTO_ICMP, PROTO_ICMPV6})

# IPv6 extension headers walked to reach the transport header. Hop-by-hop,
# routing and destination options share one layout (length in 8-octet units
# after the first 8); AH counts 4-octet units after the first 8; a fragment
# header is always 8 octets and only the first fragment carries ports.
_EXT_8: Final = frozenset({0, 43, 60})
_EXT_FRAGMENT: Final = 44
_EXT_AH: Final = 51
_MAX_EXT_HEADERS: Final = 8
_EXT_ALL: Final = _EXT_8 | {_EXT_FRAGMENT, _EXT_AH}

_ETH = struct.Struct("!6s6sH")
_U16 = struct.Struct("!H")
_IPV4 = struct.Struct("!BxHxxHxBxx4s4s")
_PORTS = struct.Struct("!HH")
_TCP_FLAGS_AT: Final = 13


class MalformedPacket(ValueError):
    """The frame cannot be what its headers claim (truncated, bogus lengths)."""


class Packet(NamedTuple):
    """What the detections read from one frame.

    `proto` is the transport protocol after any IPv6 extension headers, or
    -1 for ARP and other non-IP frames. `sport`/`dport` are TCP/UDP ports
    (-1 otherwise); `icmp_type`/`icmp_code` are set for ICMP and ICMPv6.
    `l4` is the transport header's offset in `frame` (-1 when there is none,
    e.g. a non-first fragment); `l3` is the network header's offset.
    """

    ts: float
    length: int
    eth_src: bytes
    eth_dst: bytes
    vlan: int
    ethertype: int
    version: int
    src: bytes
    dst: bytes
    proto: int
    sport: int
    dport: int
    tcp_flags: int
    icmp_type: int
    icmp_code: int
    l3: int
    l4: int
    frame: bytes


class ArpInfo(NamedTuple):
    op: int
    sender_mac: bytes
    sender_ip: bytes
    target_mac: bytes
    target_ip: bytes


_new_packet = tuple.__new__


def decode(frame: bytes, ts: float = 0.0, length: int = 0) -> Packet:
    """Decode one Ethernet frame. `length` is the wire length (0: len(frame))."""
    try:
        eth_dst, eth_src, ethertype = _ETH.unpack_from(frame, 0)
        # Untagged IPv4/IPv6 is nearly all traffic: one call less for it.
        if ethertype == ETH_IPV4:
            return _ipv4(frame, ts, length or len(frame), eth_src, eth_dst, NO_VLAN, 14)
        if ethertype == ETH_IPV6:
            return _ipv6(frame, ts, length or len(frame), eth_src, eth_dst, NO_VLAN, 14)
        return _other(frame, ts, length or len(frame), eth_src, eth_dst, ethertype)
    except (struct.error, IndexError) as exc:
        raise MalformedPacket(f"truncated frame ({len(frame)} bytes)") from exc


def _other(
    frame: bytes, ts: float, length: int, eth_src: bytes, eth_dst: bytes, ethertype: int
) -> Packet:
    offset = 14
    vlan = NO_VLAN
    tags = 0
    while ethertype in _VLAN_TYPES:
        tci, ethertype = _PORTS.unpack_from(frame, offset)
        if vlan == NO_VLAN:
            vlan = tci & 0x0FFF
        offset += 4
        tags += 1
        if tags > 2:
            raise MalformedPacket("more than two VLAN tags")
    if ethertype == ETH_IPV4:
        return _ipv4(frame, ts, length, eth_src, eth_dst, vlan, offset)
    if ethertype == ETH_IPV6:
        return _ipv6(frame, ts, length, eth_src, eth_dst, vlan, offset)
    if ethertype == ETH_ARP and len(frame) < offset + 28:
        raise MalformedPacket("truncated ARP")
    return _new_packet(
        Packet,
        (
            ts,
            length,
            eth_src,
            eth_dst,
            vlan,
            ethertype,
            0,
            b"",
            b"",
            -1,
            -1,
            -1,
            0,
            -1,
            -1,
            offset,
            -1,
            frame,
        ),
    )


def _ipv4(
    frame: bytes, ts: float, length: int, eth_src: bytes, eth_dst: bytes, vlan: int, l3: int
) -> Packet:
    # One unpack for the fixed header: version/IHL, total length, fragment
    # field, protocol and both addresses (a short frame raises struct.error).
    first, total, fragment, proto, src, dst = _IPV4.unpack_from(frame, l3)
    if first >> 4 != 4:
        raise MalformedPacket("IPv4 ethertype without an IPv4 header")
    header_len = (first & 0x0F) << 2
    if header_len < 20 or total < header_len:
        raise MalformedPacket("bogus IPv4 header or total length")
    if len(frame) < l3 + header_len:
        raise MalformedPacket("truncated IPv4 header")
    # The payload ends at the total length or at the capture's end, whichever
    # is first (a short snaplen truncates payload, not the headers we read).
    end = l3 + total
    if end > len(frame):
        end = len(frame)
    fragment_offset = fragment & 0x1FFF
    l4 = l3 + header_len
    if fragment_offset:
        return _new_packet(
            Packet,
            (
                ts,
                length,
                eth_src,
                eth_dst,
                vlan,
                ETH_IPV4,
                4,
                src,
                dst,
                proto,
                -1,
                -1,
                0,
                -1,
                -1,
                l3,
                -1,
                frame,
            ),
        )
    return _transport(
        frame, ts, length, eth_src, eth_dst, vlan, ETH_IPV4, 4, src, dst, proto, l3, l4, end
    )


def _ipv6(
    frame: bytes, ts: float, length: int, eth_src: bytes, eth_dst: bytes, vlan: int, l3: int
) -> Packet:
    if frame[l3] >> 4 != 6:
        raise MalformedPacket("IPv6 ethertype without an IPv6 header")
    payload_len = _U16.unpack_from(frame, l3 + 4)[0]
    proto = frame[l3 + 6]
    src = frame[l3 + 8 : l3 + 24]
    dst = frame[l3 + 24 : l3 + 40]
    if len(dst) != 16:
        raise MalformedPacket("truncated IPv6 header")
    end = l3 + 40 + payload_len
    if end > len(frame):
        end = len(frame)
    l4 = l3 + 40
    hops = 0
    while proto in _EXT_ALL:
        hops += 1
        if hops > _MAX_EXT_HEADERS or l4 + 8 > end:
            raise MalformedPacket("IPv6 extension headers overrun the packet")
        next_header = frame[l4]
        if proto == _EXT_FRAGMENT:
            if _U16.unpack_from(frame, l4 + 2)[0] >> 3:
                return _new_packet(
                    Packet,
                    (
                        ts,
                        length,
                        eth_src,
                        eth_dst,
                        vlan,
                        ETH_IPV6,
                        6,
                        src,
                        dst,
                        next_header,
                        -1,
                        -1,
                        0,
                        -1,
                        -1,
                        l3,
                        -1,
                        frame,
                    ),
                )
            l4 += 8
        elif proto == _EXT_AH:
            l4 += (frame[l4 + 1] + 2) << 2
        else:
            l4 += (frame[l4 + 1] + 1) << 3
        proto = next_header
    return _transport(
        frame, ts, length, eth_src, eth_dst, vlan, ETH_IPV6, 6, src, dst, proto, l3, l4, end
    )


def _transport(
    frame: bytes,
    ts: float,
    length: int,
    eth_src: bytes,
    eth_dst: bytes,
    vlan: int,
    ethertype: int,
    version: int,
    src: bytes,
    dst: bytes,
    proto: int,
    l3: int,
    l4: int,
    end: int,
) -> Packet:
    # Transport fields first, one Packet built at the end: -1 marks "not this protocol".
    sport = dport = icmp_type = icmp_code = -1
    flags = 0
    if proto == PROTO_TCP:
        if l4 + 20 > end:
            raise MalformedPacket("truncated TCP header")
        sport, dport = _PORTS.unpack_from(frame, l4)
        if frame[l4 + 12] >> 4 < 5:
            raise MalformedPacket("TCP data offset below 5")
        flags = frame[l4 + _TCP_FLAGS_AT]
    elif proto == PROTO_UDP:
        if l4 + 8 > end:
            raise MalformedPacket("truncated UDP header")
        sport, dport = _PORTS.unpack_from(frame, l4)
    elif proto in _ICMPS:
        if l4 + 4 > end:
            raise MalformedPacket("truncated ICMP header")
        icmp_type, icmp_code = frame[l4], frame[l4 + 1]
    return _new_packet(
        Packet,
        (ts, length, eth_src, eth_dst, vlan, ethertype, version, src, dst, proto,
         sport, dport, flags, icmp_type, icmp_code, l3, l4, frame),
    )  # fmt: skip


_ARP = struct.Struct("!HHBBH6s4s6s4s")


def decode_arp(packet: Packet) -> ArpInfo:
    """The Ethernet/IPv4 ARP body of an ARP packet (validated by `decode`)."""
    hw_type, proto_type, hw_len, proto_len, op, smac, sip, tmac, tip = _ARP.unpack_from(
        packet.frame, packet.l3
    )
    if hw_type != 1 or proto_type != ETH_IPV4 or hw_len != 6 or proto_len != 4:
        raise MalformedPacket("ARP for something other than Ethernet/IPv4")
    return ArpInfo(op, smac, sip, tmac, tip)


def ip_text(address: bytes) -> str:
    """Canonical text of a raw IPv4/IPv6 address (the same as scapy prints)."""
    if len(address) == 4:
        return socket.inet_ntoa(address)
    return socket.inet_ntop(socket.AF_INET6, address)


def mac_text(address: bytes) -> str:
    return address.hex(":")
