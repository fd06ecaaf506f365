"""The flow key of a plain TCP/UDP frame, read where it lies.

Most frames on any wire belong to a conversation the sensor already knows,
and for those only the flow's counters change: no detection looks at them.
`flow_key` reads the 5-tuple of such a frame without building a `Packet`,
for the frames that are nearly all traffic: untagged or 802.1Q-tagged,
IPv4 without options and not a later fragment, or IPv6 without extension
headers, carrying TCP or UDP. It returns None for anything else (ARP, ICMP,
options, extension headers, fragments, QinQ, DHCP server messages, frames
too short to hold those headers) and for any header `decode.decode` would reject, so a
caller falls back to the full decode and counts exactly what it counts.

The checks are `decode`'s, restated for these fixed layouts: IPv4 version 4
with a 20-byte header; IPv6 version 6; the transport header inside both the
capture and the IP length; a TCP data offset of at least 5. They are made
once, in place (`plain_at`), so the same function serves a frame already
copied out and a frame still in a capture's read buffer, which a sensor
process sharing a file assigns without copying (`shards.ShardAssigner`).
`tests/packets/test_fastpath.py` compares `flow_key` with `decode` on every
frame of both bench captures and on hostile mutations of them.
"""

from __future__ import annotations

from typing import Final

from .decode import ETH_IPV4, ETH_IPV6, ETH_VLAN, PROTO_TCP, PROTO_UDP
from .flows import FlowKey

DHCP_SERVER_PORTS: Final = frozenset({67, 547})
_TCP_MIN_OFFSET: Final = 5 << 4  # a TCP data offset of 5 words, in its byte's high nibble


def plain_at(buf: bytes, start: int, end: int) -> tuple[int, int, int]:
    """(transport protocol, offset of the wire key, offset of the ports) of
    the plain TCP/UDP frame `buf[start:end]`; (0, 0, 0) for any other frame.

    The wire key is the bytes from the source address to the destination
    port: both addresses then both ports, contiguous in a plain IPv4 or
    IPv6 header followed by its transport header. Read byte by byte where
    the frame lies: compiled, that costs less than a `struct` call, and no
    slice is made of a frame that turns out not to be plain.
    """
    size = end - start
    # The shortest plain frame: an IPv4 header and the TCP header up to its
    # data offset byte (a UDP frame is checked against its own lengths below).
    if size < 47:
        return 0, 0, 0
    ip = start + 14
    ethertype = buf[start + 12] << 8 | buf[start + 13]
    if ethertype == ETH_VLAN:
        if size < 51:
            return 0, 0, 0
        ip += 4
        ethertype = buf[start + 16] << 8 | buf[start + 17]
    if ethertype == ETH_IPV4:
        if buf[ip] != 0x45 or (buf[ip + 6] & 0x1F) | buf[ip + 7]:
            return 0, 0, 0  # options, or a later fragment
        room = min(end - ip, buf[ip + 2] << 8 | buf[ip + 3]) - 20
        proto = buf[ip + 9]
        wire = ip + 12
        ports = ip + 20
    elif ethertype == ETH_IPV6:
        if size < ip - start + 53 or buf[ip] >> 4 != 6:
            return 0, 0, 0
        room = min(end - ip - 40, buf[ip + 4] << 8 | buf[ip + 5])
        proto = buf[ip + 6]
        wire = ip + 8
        ports = ip + 40
    else:
        return 0, 0, 0
    if proto == PROTO_TCP:
        if room < 20 or buf[ports + 12] < _TCP_MIN_OFFSET:
            return 0, 0, 0
    elif proto != PROTO_UDP or room < 8 or (buf[ports] << 8 | buf[ports + 1]) in DHCP_SERVER_PORTS:
        return 0, 0, 0
    return proto, wire, ports


def flow_key(frame: bytes) -> FlowKey | None:
    """(src, dst, proto, sport, dport) of a plain TCP/UDP frame, else None."""
    proto, wire, ports = plain_at(frame, 0, len(frame))
    if not proto:
        return None
    dst = (wire + ports) >> 1  # the addresses split the wire key's first part in two
    return (
        frame[wire:dst],
        frame[dst:ports],
        proto,
        frame[ports] << 8 | frame[ports + 1],
        frame[ports + 2] << 8 | frame[ports + 3],
    )
