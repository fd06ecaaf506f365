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
from collections.abc import Iterator
from io import BufferedReader
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .capture import CHUNK, PcapError, Record, RecordFilter
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
from .flows import is_local_scope, new_flow

if TYPE_CHECKING:
    from ._split import Splitter

# Multiplicative hashing (Knuth): consecutive addresses spread over processes.
GOLDEN: Final = 2654435761
_WORDS: Final = struct.Struct("!IIII")
_PORTS: Final = struct.Struct("!HH")


def _spread(word: int) -> int:
    # The high half is folded in first: the product's low bits, which pick
    # among few processes (bit 16 of it for 2), depend only on the word's
    # low bits, and an estate's clients can differ only above them (an
    # IPv6 client's /64 differs from its neighbours' in the folded word's
    # high half).
    return (((word ^ word >> 16) * GOLDEN) & 0xFFFFFFFF) >> 16


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


def _client_by_ports(proto: int, sport: int, dport: int) -> bool:
    """Whether every packet of a flow between these ports names the flow's
    client alike without flow state: the end with the higher port, as
    `new_flow` decides from any of them. Not so when the ports are equal,
    nor for UDP between two ports of 1024 and over (the first packet's
    sender is the client), nor for a TCP flow opened from its lower port
    (`_opened_from_lower_port`)."""
    return sport != dport and (proto == PROTO_TCP or min(sport, dport) < 1024)


def _opened_from_lower_port(flags: int, sport: int, dport: int) -> bool:
    """A SYN (or SYN-ACK) whose client end has the lower port: a scan from
    source port 20 or 53, say, which `new_flow` gives to its sender."""
    return bool(flags & TCP_SYN) and (not flags & TCP_ACK) != (sport > dport)


def _swapped(buf: bytes, ports: int) -> bytes:
    """The two ports at `ports`, the other way round (a reverse wire key's)."""
    return buf[ports + 2 : ports + 4] + buf[ports : ports + 2]


class ShardAssigner:
    """`shard_of`, except that a flow belongs to its client as the sensor sees it.

    The client of a TCP/UDP flow is decided by its first packet, as the
    sensor's flow table decides it (`flows.new_flow`: a SYN's sender, the
    client side of a UDP conversation even when both ports are 514), so
    scans from low source ports and per-client windows stay whole, and so
    do flows behind IPv6 extension headers (decoded here, unlike in BPF).
    Deterministic: processes that see the same packets in the same order
    agree.

    Most flows need no table: the ports alone name their client
    (`_client_by_ports`). The table holds the others, and in C a bitmap
    of them says when a frame needs a lookup. It is bounded; when full it
    is emptied (in every process at the same packet), and later packets of
    older flows go by their first packet again. A TCP flow first seen past
    its SYN whose SYN then comes from the lower port is from then on its
    sender's; one sensor would keep the flow it had.

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

    def splitter(self) -> Splitter | None:
        """The C assigner, when the sensor is built with it."""
        return self._native

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
        if self.shards == 1:
            return 0
        forward = buf[wire : ports + 4]
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
        if _client_by_ports(proto, sport, dport):
            if proto == PROTO_TCP:
                known = self._tcp.get(forward, -1)
                if known >= 0:
                    return known
                flags = buf[ports + 13]
                if _opened_from_lower_port(flags, sport, dport):
                    client = wire if not flags & TCP_ACK else wire + size
                    shard = _spread(_word_at(buf, client, size)) % self.shards
                    reverse = buf[wire + size : ports] + buf[wire : wire + size]
                    self._remember(proto, forward, reverse + _swapped(buf, ports), shard)
                    return shard
            higher = wire if sport > dport else wire + size
            return _spread(_word_at(buf, higher, size)) % self.shards
        flows = self._tcp if proto == PROTO_TCP else self._udp
        known = flows.get(forward, -1)
        if known >= 0:
            return known
        # `new_flow`'s client: the first packet's, read in place.
        if proto == PROTO_TCP:
            flags = buf[ports + 13]
            client_is_src = not flags & TCP_ACK if flags & TCP_SYN else not sport < dport
        else:
            client_is_src = not (sport < dport and sport < 1024)
        shard = _spread(_word_at(buf, wire if client_is_src else wire + size, size)) % self.shards
        reverse = buf[wire + size : ports] + buf[wire : wire + size]
        self._remember(proto, forward, reverse + _swapped(buf, ports), shard)
        return shard

    def shard(self, packet: Packet) -> int:
        if self.shards == 1:
            return 0
        sport, dport = packet.sport, packet.dport
        proto = packet.proto
        if (
            sport >= 0
            and proto in (PROTO_TCP, PROTO_UDP)
            and not (
                proto == PROTO_UDP and (sport in DHCP_SERVER_PORTS or dport in DHCP_SERVER_PORTS)
            )
            and not is_local_scope(packet.src)
            and not is_local_scope(packet.dst)
        ):
            forward = packet.src + packet.dst + _PORTS.pack(sport, dport)
            reverse = packet.dst + packet.src + _PORTS.pack(dport, sport)
            if _client_by_ports(proto, sport, dport):
                if proto == PROTO_TCP:
                    known = self._known(proto, forward)
                    if known >= 0:
                        return known
                    flags = packet.tcp_flags
                    if _opened_from_lower_port(flags, sport, dport):
                        client = packet.src if not flags & TCP_ACK else packet.dst
                        shard = _spread(_word(client)) % self.shards
                        self._remember(proto, forward, reverse, shard)
                        return shard
                # Not `shard_of`: that sends a packet behind IPv6 extension
                # headers to process 0, and this one's flow is its client's.
                higher = packet.src if sport > dport else packet.dst
                return _spread(_word(higher)) % self.shards
            known = self._known(proto, forward)
            if known >= 0:
                return known
            flow = new_flow(packet)
            if flow is not None:
                shard = _spread(_word(flow.client)) % self.shards
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
            self._native.remember(proto, forward, shard)  # it files both directions at once
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

    def records(
        self, path: Path, handle: BufferedReader, little: bool, scale: float
    ) -> Iterator[Record] | None:
        """With the C assigner, the file is read into one buffer, reused, and
        walked in C: another process's frame is never copied out of it, nor
        is the buffer itself copied or allocated afresh per chunk."""
        native = self.assigner.splitter()
        if native is None:
            return None
        return self._read(path, handle, native, little, scale)

    def _read(
        self, path: Path, handle: BufferedReader, native: Splitter, little: bool, scale: float
    ) -> Iterator[Record]:
        buf = bytearray(CHUNK)  # a record (at most MAX_RECORD) always fits after a leftover
        window = memoryview(buf)
        filled = 0
        offset = 24  # the file offset of buf[0], for error messages
        native.pos = 0
        while read := handle.readinto(window[filled:]):
            filled += read
            while records := native.take(buf, filled, little, scale, self.index):
                if native.undecided:  # the last one: only a decode tells whose it is
                    last = records.pop()
                    yield from records
                    if self._decoded_keep(last[1], last[2]):
                        yield last
                else:
                    yield from records
            if native.corrupt_at >= 0:
                raise PcapError(
                    f"{path}: record of {native.corrupt_length} bytes at offset "
                    f"{offset + native.corrupt_at}: corrupt file"
                )
            # What is left is part of one record: to the front, and read on.
            rest = filled - native.pos
            window[:rest] = window[native.pos : filled]
            offset += native.pos
            filled = rest
            native.pos = 0
        # A capture cut off mid-record (tcpdump killed) ends at its last whole record.

    def take_blocks(
        self, buf: bytes, pos: int, size: int, little: bool, ethernet: bytes, units: bytes
    ) -> tuple[list[Record], int] | None:
        """In C, as `records` reads a pcap: another process's block is never
        copied out, and this one's records come back a list at a time."""
        native = self.assigner.splitter()
        if native is None:
            return None
        records = native.take_blocks(buf, pos, size, little, ethernet, units, self.index)
        return records, native.pos

    def keep(self, buf: bytes, start: int, end: int, length: int) -> bool:
        owner = self.assigner.shard_at(buf, start, end)
        if owner < 0:
            return self._decoded_keep(buf[start:end], length)
        return owner == self.index

    def _decoded_keep(self, frame: bytes, length: int) -> bool:
        try:
            packet = decode(frame, 0.0, length)
        except MalformedPacket:
            return self.index == 0  # which counts it as malformed
        return self.assigner.shard(packet) == self.index
