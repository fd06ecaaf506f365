"""Connections as the sensor sees them: who started it, who answered.

A flow is one TCP connection, one UDP conversation or one ICMP echo
exchange, keyed by its 5-tuple in both directions. Detections reason about
the *client* (who initiated) and the *server* (what was asked for), so the
first packet decides the roles: a SYN or an echo request comes from the
client; a SYN-ACK or an echo reply from the server; mid-stream (the capture
started late) the lower port is taken to be the service.
"""

from __future__ import annotations

from typing import Final

from .decode import PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_SYN, Packet

TRANSPORT_NAMES: Final = {
    PROTO_TCP: "tcp",
    PROTO_UDP: "udp",
    PROTO_ICMP: "icmp",
    PROTO_ICMPV6: "icmpv6",
}
ECHO_REQUESTS: Final = frozenset({(PROTO_ICMP, 8), (PROTO_ICMPV6, 128)})
ECHO_REPLIES: Final = frozenset({(PROTO_ICMP, 0), (PROTO_ICMPV6, 129)})

FlowKey = tuple[bytes, bytes, int, int, int]


class Flow:
    __slots__ = (
        "answered",
        "bytes",
        "client",
        "client_port",
        "first_seen",
        "last_seen",
        "packets",
        "proto",
        "server",
        "server_port",
        "version",
    )

    def __init__(
        self,
        client: bytes,
        server: bytes,
        proto: int,
        client_port: int,
        server_port: int,
        version: int,
        ts: float,
    ) -> None:
        self.client = client
        self.server = server
        self.proto = proto
        self.client_port = client_port
        self.server_port = server_port
        self.version = version
        self.first_seen = ts
        self.last_seen = ts
        self.packets = 0
        self.bytes = 0
        self.answered = False

    @property
    def transport(self) -> str:
        return TRANSPORT_NAMES.get(self.proto, str(self.proto))

    @property
    def service_port(self) -> int | None:
        return self.server_port if self.server_port >= 0 else None


def is_local_scope(address: bytes) -> bool:
    """Multicast, broadcast, link-local or unspecified: never crosses a router."""
    first = address[0]
    if len(address) == 4:
        return first >= 224 or first == 0 or (first == 169 and address[1] == 254)
    return first == 0xFF or (first == 0xFE and address[1] & 0xC0 == 0x80) or not any(address)


def new_flow(packet: Packet) -> Flow | None:
    """The flow this packet opens, or None for packets that are not flows
    (ICMP errors and neighbour discovery, local-scope traffic)."""
    proto = packet.proto
    src, dst = packet.src, packet.dst
    if is_local_scope(dst) or is_local_scope(src):
        return None
    sport, dport = packet.sport, packet.dport
    client_is_src = True
    if proto == PROTO_TCP:
        flags = packet.tcp_flags
        client_is_src = not flags & TCP_ACK if flags & TCP_SYN else not sport < dport
    elif proto == PROTO_UDP:
        client_is_src = not (sport < dport and sport < 1024)
    elif proto in (PROTO_ICMP, PROTO_ICMPV6):
        kind = (proto, packet.icmp_type)
        if kind in ECHO_REPLIES:
            client_is_src = False
        elif kind not in ECHO_REQUESTS:
            return None
    if client_is_src:
        return Flow(src, dst, proto, sport, dport, packet.version, packet.ts)
    return Flow(dst, src, proto, dport, sport, packet.version, packet.ts)
