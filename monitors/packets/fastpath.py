"""The flow key of a plain TCP/UDP frame, read in one unpack.

Most frames on any wire belong to a conversation the sensor already knows,
and for those only the flow's counters change: no detection looks at them.
`flow_key` reads the 5-tuple of such a frame without building a `Packet`,
for the frames that are nearly all traffic: untagged or 802.1Q-tagged,
IPv4 without options and not a later fragment, or IPv6 without extension
headers, carrying TCP or UDP. It returns None for anything else (ARP, ICMP,
options, extension headers, fragments, QinQ, DHCP server messages, frames
too short to unpack) and for any header `decode.decode` would reject, so a
caller falls back to the full decode and counts exactly what it counts.

The checks are `decode`'s, restated for these fixed layouts: IPv4 version 4
with a 20-byte header; IPv6 version 6; the transport header inside both the
capture and the IP length; a TCP data offset of at least 5.
`tests/packets/test_fastpath.py` compares the two on every frame of both
bench captures and on hostile mutations of them.
"""

from __future__ import annotations

import struct
from typing import Final

from .decode import ETH_IPV4, ETH_IPV6, ETH_VLAN, PROTO_TCP, PROTO_UDP
from .flows import FlowKey

# Ethertype, then IPv4 up to the addresses, then the ports and the TCP data
# offset (for UDP that byte is payload and is not looked at).
_IPV4: Final = struct.Struct("!12xHBxHxxHxBxx4s4sHH8xB")
# Ethertype, then IPv6's version, payload length, next header, addresses,
# ports and the TCP data offset.
_IPV6: Final = struct.Struct("!12xHB3xHBx16s16sHH8xB")
_DHCP_SERVER_PORTS: Final = frozenset({67, 547})
_TCP_MIN_OFFSET: Final = 5 << 4


def flow_key(frame: bytes) -> FlowKey | None:
    """(src, dst, proto, sport, dport) of a plain TCP/UDP frame, else None."""
    try:
        ethertype, first, total, fragment, proto, src, dst, sport, dport, offset = (
            _IPV4.unpack_from(frame, 0)
        )
        tag = 0
        if ethertype == ETH_VLAN:
            tag = 4
            ethertype, first, total, fragment, proto, src, dst, sport, dport, offset = (
                _IPV4.unpack_from(frame, 4)
            )
        if ethertype == ETH_IPV4:
            if first != 0x45 or fragment & 0x1FFF:
                return None
            room = len(frame) - 14 - tag  # what the capture holds from the IP header on
            if total < room:
                room = total
            if proto == PROTO_TCP:
                if room < 40 or offset < _TCP_MIN_OFFSET:
                    return None
            elif proto != PROTO_UDP or room < 28 or sport in _DHCP_SERVER_PORTS:
                return None
            return (src, dst, proto, sport, dport)
        if ethertype != ETH_IPV6:
            return None
        _, first, payload, proto, src, dst, sport, dport, offset = _IPV6.unpack_from(frame, tag)
    except struct.error:
        return None
    if first >> 4 != 6:
        return None
    room = len(frame) - 54 - tag  # what the capture holds after the fixed header
    if payload < room:
        room = payload
    if proto == PROTO_TCP:
        if room < 20 or offset < _TCP_MIN_OFFSET:
            return None
    elif proto != PROTO_UDP or room < 8 or sport in _DHCP_SERVER_PORTS:
        return None
    return (src, dst, proto, sport, dport)
