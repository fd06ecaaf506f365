"""Which sensor process a packet belongs to, when one process per core senses.

Most detections keep state per *client*: a scan is one source probing many
ports or hosts, a forbidden-flow window is one source, zone pair and
service, a flow is both directions of one conversation. So the traffic is
split by the client's address: every packet of a flow, and every flow of a
client, lands in the same process, and those detections need no merge.

The client is read from the packet alone, without flow state, the same way
in both directions: of two TCP/UDP ports the lower one is the service, so
the other end is the client (equal ports: both addresses count alike).

What is not a client's goes to process 0, whole: ARP, neighbour discovery
and router advertisements, DHCP both ways, ICMP, non-IP frames, IPv6
packets with extension headers (a classic BPF program cannot walk them),
and frames too short to decode. Those feed the per-segment detections (ARP
bindings and storms, gateway claims, rogue routers and DHCP servers), which
keep one view of the segment in that one process. DHCP goes there both
ways, not only the server's messages, so a unicast exchange (a renewal, a
relay's) stays one flow in one process; ICMP goes there whole because an
echo behind an IPv6 extension header could not go where its plain answer
goes, and no per-client detection counts ICMP.

`fanout.fanout_program` is that rule as a classic BPF program for the
kernel's AF_PACKET fanout (PACKET_FANOUT_CBPF), which hands each live
packet to one socket of the group: the program's result modulo the group's
size. It has no memory, so a scan whose probed ports are above its own source port
(scapy's default source port 20, `nmap -g 53`) looks like answers to many
clients and is split across processes; every flow still stays whole.

A capture file does better (`ShardAssigner`): every process reads the whole
file and runs the same assigner over every packet, so they agree without
talking. A flow belongs to its client as the sensor's flow table sees it
(a SYN's sender whatever its ports, the first sender of a UDP conversation
between two equal ports), so such scans and per-client windows stay whole.

Also by construction: a client whose traffic mixes IPv6 extension headers
and plain packets has those flows in process 0. IPv6 adoption counts, the
counters and the event stream are merged from every process
(`monitors.packets.parallel`).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Final

from .capture import RecordFilter
from .decode import (
    PROTO_TCP,
    PROTO_UDP,
    TCP_ACK,
    TCP_SYN,
    MalformedPacket,
    Packet,
    decode,
)
from .fastpath import DHCP_SERVER_PORTS, plain_at
from .flows import new_flow

if TYPE_CHECKING:
    from ._split import Splitter

# Multiplicative hashing (Knuth): consecutive addresses spread over processes.
GOLDEN: Final = 2654435761
_WORDS: Final = struct.Struct("!IIII")
_PORTS: Final = struct.Struct("!HH")


def _spread(word: int) -> int:
    return ((word * GOLDEN) & 0xFFFFFFFF) >> 16


def _word(address: bytes) -> int:
    """32 bits of an address; an IPv6 address folds all four words, since
    planned estates reuse interface ids (::a, ::10) on every /64."""
    if len(address) == 4:
        return int.from_bytes(address, "big")
    a, b, c, d = _WORDS.unpack(address)
    return int(a ^ b ^ c ^ d)


def shard_of(packet: Packet, shards: int) -> int:
    """The process (0..shards-1) that senses this packet."""
    if shards == 1 or packet.version == 0:
        return 0
    proto = packet.proto
    if packet.version == 6 and packet.l4 != packet.l3 + 40:
        return 0  # extension headers (or a later fragment)
    if proto in (PROTO_TCP, PROTO_UDP):
        sport, dport = packet.sport, packet.dport
        if sport < 0:  # an IPv4 fragment after the first: no ports
            return _spread(_word(packet.src) ^ _word(packet.dst)) % shards
        if proto == PROTO_UDP and (sport in DHCP_SERVER_PORTS or dport in DHCP_SERVER_PORTS):
            return 0
        if sport > dport:
            return _spread(_word(packet.src)) % shards
        if sport < dport:
            return _spread(_word(packet.dst)) % shards
        return _spread(_word(packet.src) ^ _word(packet.dst)) % shards
    if packet.l4 < 0 and proto >= 0:
        return _spread(_word(packet.src) ^ _word(packet.dst)) % shards
    return 0


def _word_at(buf: bytes, at: int, size: int) -> int:
    """`_word` of the address `buf[at:at + size]`."""
    word = 0
    for offset in range(at, at + size, 4):
        word ^= buf[offset] << 24 | buf[offset + 1] << 16 | buf[offset + 2] << 8 | buf[offset + 3]
    return word


def _local_at(buf: bytes, at: int, size: int) -> bool:
    """`flows.is_local_scope` of the address `buf[at:at + size]`."""
    first = buf[at]
    if size == 4:
        return first >= 224 or first == 0 or (first == 169 and buf[at + 1] == 254)
    if first == 0xFF or (first == 0xFE and buf[at + 1] & 0xC0 == 0x80):
        return True
    return not any(buf[at : at + size])


class ShardAssigner:
    """`shard_of`, except that a flow belongs to its client as the sensor sees it.

    The client of a TCP/UDP flow is decided by its first packet, as the
    sensor's flow table decides it (`flows.new_flow`: a SYN's sender, the
    client side of a UDP conversation even when both ports are 514), so
    scans from low source ports and per-client windows stay whole, and so
    do flows behind IPv6 extension headers (decoded here, unlike in BPF).
    Deterministic: processes that see the same packets in the same order
    agree. The table is bounded; when full it is emptied (in every process
    at the same packet), and later packets of older flows then go by their
    first packet again.

    A flow is remembered by its wire key, per transport protocol: source and
    destination address then source and destination port, the bytes that
    follow each other in a plain IPv4 or IPv6 header and its transport
    header, so a plain frame is assigned in the capture's read buffer
    (`shard_at`) without being decoded or copied.
    """

    def __init__(self, shards: int, max_flows: int = 1_000_000, *, native: bool = True) -> None:
        self.shards = shards
        self._max = max_flows
        self._tcp: dict[bytes, int] = {}
        self._udp: dict[bytes, int] = {}
        # The same rule and table in C when built (split.c), else these dicts.
        self._native = _splitter(shards, max_flows) if native else None

    @property
    def native(self) -> bool:
        return self._native is not None

    def skip(self, buf: bytes, pos: int, size: int, little: bool, index: int) -> int:
        """The first pcap record from `pos` that process `index` must look at:
        whole records of `buf[:size]` other processes own are passed over in
        place (C only; the Python assigner looks at every record). When it
        stops at one of `index`'s own, `mine_at` is that frame's start."""
        if self._native is None:
            return pos
        return self._native.skip(buf, pos, size, little, index)

    def mine_at(self) -> int:
        """The frame start of the record `skip` stopped at as its caller's, else -1."""
        return -1 if self._native is None else self._native.mine_at

    def shard_at(self, buf: bytes, start: int, end: int) -> int:
        """`shard` of the frame `buf[start:end]` read where it lies, when it is
        a plain TCP/UDP frame (one `fastpath.flow_key` reads, so `decode`
        accepts it); else -1, and the caller decodes it for `shard`."""
        if self._native is not None:
            return self._native.shard_at(buf, start, end)
        proto, wire, ports = plain_at(buf, start, end)
        if not proto:
            return -1
        if proto == PROTO_UDP and (buf[ports + 2] << 8 | buf[ports + 3]) in DHCP_SERVER_PORTS:
            return 0  # a request to a DHCP server (its answers are not plain frames)
        flows = self._tcp if proto == PROTO_TCP else self._udp
        forward = buf[wire : ports + 4]
        known = flows.get(forward, -1)
        if known >= 0 or self.shards == 1:
            return max(known, 0)
        # `new_flow`'s client and `shard_of`'s rule, read in place.
        size = (ports - wire) >> 1  # an address: 4 or 16 bytes
        sport = buf[ports] << 8 | buf[ports + 1]
        dport = buf[ports + 2] << 8 | buf[ports + 3]
        if _local_at(buf, wire, size) or _local_at(buf, wire + size, size):
            # Not a flow (`new_flow` is None): by its ports, and not remembered.
            if sport == dport:
                word = _word_at(buf, wire, size) ^ _word_at(buf, wire + size, size)
            else:
                word = _word_at(buf, wire if sport > dport else wire + size, size)
            return _spread(word) % self.shards
        if proto == PROTO_TCP:
            flags = buf[ports + 13]
            client_is_src = not flags & TCP_ACK if flags & TCP_SYN else not sport < dport
        else:
            client_is_src = not (sport < dport and sport < 1024)
        shard = _spread(_word_at(buf, wire if client_is_src else wire + size, size)) % self.shards
        reverse = buf[wire + size : ports] + buf[wire : wire + size] + buf[ports + 2 : ports + 4]
        self._remember(proto, forward, reverse + buf[ports : ports + 2], shard)
        return shard

    def shard(self, packet: Packet) -> int:
        if self.shards == 1:
            return 0
        sport, dport = packet.sport, packet.dport
        proto = packet.proto
        if sport >= 0 and proto in (PROTO_TCP, PROTO_UDP):
            if not (
                proto == PROTO_UDP and (sport in DHCP_SERVER_PORTS or dport in DHCP_SERVER_PORTS)
            ):
                forward = packet.src + packet.dst + _PORTS.pack(sport, dport)
                known = self._known(proto, forward)
                if known >= 0:
                    return known
                flow = new_flow(packet)
                if flow is not None:
                    shard = _spread(_word(flow.client)) % self.shards
                    reverse = packet.dst + packet.src + _PORTS.pack(dport, sport)
                    self._remember(proto, forward, reverse, shard)
                    return shard
        return shard_of(packet, self.shards)

    def _known(self, proto: int, key: bytes) -> int:
        if self._native is not None:
            return self._native.known(proto, key)
        return (self._tcp if proto == PROTO_TCP else self._udp).get(key, -1)

    def _remember(self, proto: int, forward: bytes, reverse: bytes, shard: int) -> None:
        """Both directions of a new flow; a full table is emptied first (in
        every process at the same frame)."""
        if self._native is not None:
            self._native.remember(proto, forward, reverse, shard)
            return
        if len(self._tcp) + len(self._udp) >= self._max:
            self._tcp.clear()
            self._udp.clear()
        flows = self._tcp if proto == PROTO_TCP else self._udp
        flows[forward] = shard
        flows[reverse] = shard


def _splitter(shards: int, max_flows: int) -> Splitter | None:
    """The C assigner of this build, or None when the sensor runs interpreted."""
    try:
        from ._split import Splitter
    except ImportError:
        return None
    return Splitter(shards, max_flows)


class FileShare(RecordFilter):
    """The records of sensor process `index` of `shards` sharing one capture
    file (`read_capture(path, FileShare(...))`).

    Every process reads the whole file and runs the same `ShardAssigner`
    over every frame, so they agree without talking. A plain TCP/UDP frame
    (nearly all traffic) is assigned where it lies in the read buffer
    (`shard_at`), and another process's frame is skipped there, never
    copied out or decoded; only the frames the fast path does not read are
    decoded to be assigned. A frame `decode` rejects goes to process 0,
    which counts it as malformed.
    """

    def __init__(self, index: int, shards: int) -> None:
        self.index = index
        self.assigner = ShardAssigner(shards)

    def skip(self, buf: bytes, pos: int, size: int, little: bool) -> int:
        return self.assigner.skip(buf, pos, size, little, self.index)

    def keep(self, buf: bytes, start: int, end: int, length: int) -> bool:
        if start == self.assigner.mine_at():
            return True  # `skip` stopped here for this process
        owner = self.assigner.shard_at(buf, start, end)
        if owner < 0:
            try:
                packet = decode(buf[start:end], 0.0, length)
            except MalformedPacket:
                return self.index == 0
            owner = self.assigner.shard(packet)
        return owner == self.index
