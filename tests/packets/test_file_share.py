"""A shared capture file split in the read buffer: the split `decode` would give.

`FileShare` assigns a plain TCP/UDP frame where it lies in the reader's
buffer (`ShardAssigner.shard_at`, in C when the sensor is built), without
decoding it. Each process's share
must be exactly what decoding every frame and asking `ShardAssigner.shard`
gives, on ordinary mixes, local-scope traffic, flows between equal ports,
hostile variants of plain frames (cut short, bogus lengths, fragments,
tags) and random headers; and the shares must partition the file, for pcap
and pcapng alike.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from monitors.packets import decode, read_capture
from monitors.packets.capture import PcapWriter
from monitors.packets.decode import MalformedPacket
from monitors.packets.fastpath import flow_key, plain_at
from monitors.packets.shards import FileShare, ShardAssigner
from monitors.packets.synthetic import Host, mixed_traffic, varied_traffic
from tests.packets import scenarios
from tests.packets.sharding import as_pcapng
from tests.packets.test_fastpath import _HEADERS, EXCHANGE, EXTRANET, _mutations

# A payload: a frame too short for the fast path's layout is decoded, not read in place.
_PAYLOAD = Raw(b"yunwang " * 5)
_MACS = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def _local_and_equal_ports() -> list[bytes]:
    """Flows `new_flow` refuses (multicast, link-local, unspecified) and flows
    between two equal ports, in both directions: split by their ports alone."""
    frames = []
    for a, b in zip(EXTRANET[:8], EXTRANET[8:16], strict=True):
        frames += _local_pair(a, b)
    return frames


def _local_pair(a: Host, b: Host) -> list[bytes]:
    frames = []
    for src, dst in [
        (a.ipv4, "224.0.0.251"),
        ("169.254.3.4", b.ipv4),
        ("0.0.0.0", a.ipv4),
        (a.ipv4, b.ipv4),
    ]:
        for sport, dport in [(5353, 5353), (40000, 53), (53, 40000), (514, 514)]:
            frames.append(
                bytes(_MACS / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / _PAYLOAD)
            )
    for src, dst in [(a.ipv6, "ff02::fb"), ("fe80::1", b.ipv6), ("::", a.ipv6)]:
        for sport, dport in [(5353, 5353), (40000, 53), (546, 547)]:
            frames.append(
                bytes(_MACS / IPv6(src=src, dst=dst) / UDP(sport=sport, dport=dport) / _PAYLOAD)
            )
    return frames


def _odd_first_frames() -> list[bytes]:
    """Conversations whose first frame is not a client's SYN: an answer
    (SYN-ACK), mid-stream segments, UDP between two high or two low ports,
    each followed by its reverse; the client comes from the flags or the
    ports (`new_flow`), and differs with the direction."""
    frames = []
    for n, (flags, sport, dport) in enumerate(
        [("SA", 443, 40001), ("A", 40002, 443), ("A", 443, 40003), ("S", 20, 3389),
         ("PA", 50000, 40004), ("R", 22, 22), ("F", 1000, 999)]
    ):  # fmt: skip
        a, b = EXTRANET[2 + n], EXCHANGE[-1 - n]
        for src, dst in [(a.ipv4, b.ipv4), (a.ipv6, b.ipv6)]:
            ip = IP if "." in src else IPv6
            frames.append(
                bytes(_MACS / ip(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags))
            )
            frames.append(
                bytes(_MACS / ip(src=dst, dst=src) / TCP(sport=dport, dport=sport, flags="A"))
            )
    ports = [(40000, 50000), (50000, 40000), (500, 1000), (1000, 500), (123, 123)]
    for n, (sport, dport) in enumerate(ports * 4):  # several pairs each: a shard is a coin
        a, b = EXTRANET[12 + n], EXCHANGE[n % len(EXCHANGE)]
        for src, dst in [(a.ipv4, b.ipv4), (a.ipv6, b.ipv6)]:
            ip = IP if "." in src else IPv6
            frames.append(
                bytes(_MACS / ip(src=src, dst=dst) / UDP(sport=sport, dport=dport) / _PAYLOAD)
            )
            frames.append(
                bytes(_MACS / ip(src=dst, dst=src) / UDP(sport=dport, dport=sport) / _PAYLOAD)
            )
    return frames


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = random.Random(11)
    frames = mixed_traffic(EXTRANET, EXTRANET[:10], 120, seed=21)
    frames += varied_traffic(EXTRANET, EXTRANET[:10], EXCHANGE, 120, seed=22)
    frames.sort()
    end = frames[-1][0]
    plain = [f for _, f in frames if flow_key(f) is not None and f[12:14] != b"\x81\x00"]
    # Hostile variants of frames of flows already under way, then of new ones.
    extra = [m for frame in rng.sample(plain, 30) for m in _mutations(frame)]
    extra += [bytes(p) for p in scenarios.all_frames()] + _local_and_equal_ports() * 2
    # Random bytes behind real Ethernet, IPv4, IPv6 and tagged headers.
    for _ in range(600):
        start = rng.choice([b"\x08\x00\x45", b"\x86\xdd\x60", b"\x81\x00\x00\x01\x08\x00\x45"])
        extra.append(b"\x02" * 12 + start + rng.randbytes(rng.randrange(0, 120)))
    rng.shuffle(extra)
    extra += _odd_first_frames()  # in order: each conversation's first frame first
    path = tmp_path_factory.mktemp("share") / "share.pcap"
    with PcapWriter(path) as writer:
        for ts, frame in frames:
            writer.write(ts, frame)
        for i, frame in enumerate(extra):
            writer.write(end + 1 + i * 1e-4, frame)
    return path


def _decoded_split(path: Path, shards: int) -> list[int]:
    """The shard of every record, every frame decoded first (the reference)."""
    assigner = ShardAssigner(shards)
    owners = []
    for ts, frame, length in read_capture(path):
        try:
            owners.append(assigner.shard(decode(frame, ts, length)))
        except MalformedPacket:
            owners.append(0)
    return owners


def _shares(path: Path, shards: int, native: bool = True) -> list[list[tuple[float, bytes, int]]]:
    """Each process's records; `native`: the C assigner when built, else the Python one."""
    shares = []
    for index in range(shards):
        share = FileShare(index, shards)
        share.assigner = ShardAssigner(shards, native=native)
        shares.append(list(read_capture(path, share)))
    return shares


def _assert_split_as_decoded(path: Path, shards: int, native: bool = True) -> None:
    records = list(read_capture(path))
    owners = _decoded_split(path, shards)
    shares = _shares(path, shards, native)
    for index, share in enumerate(shares):
        assert share == [r for r, owner in zip(records, owners, strict=True) if owner == index]
    assert sum(len(s) for s in shares) == len(records)  # a partition: nothing twice, nothing lost
    assert all(len(s) > len(records) // (3 * shards) for s in shares)  # and the work is spread


@pytest.mark.parametrize("native", [True, False], ids=["c-when-built", "python"])
@pytest.mark.parametrize("shards", [2, 3])
def test_each_share_is_the_one_decoding_every_frame_gives(
    capture: Path, shards: int, native: bool
) -> None:
    records = list(read_capture(capture))
    in_place = sum(1 for _, frame, _ in records if plain_at(frame, 0, len(frame))[0])
    assert in_place > len(records) // 2  # most frames are split without a decode
    _assert_split_as_decoded(capture, shards, native)


def test_a_pcapng_is_split_as_its_pcap(capture: Path, tmp_path: Path) -> None:
    converted = as_pcapng(capture, tmp_path / "share.pcapng")
    frames = [[(f, n) for _, f, n in share] for share in _shares(converted, 2)]
    assert frames == [[(f, n) for _, f, n in share] for share in _shares(capture, 2)]
    _assert_split_as_decoded(converted, 2)


@pytest.mark.parametrize("native", [True, False], ids=["c-when-built", "python"])
def test_a_full_flow_table_is_emptied_at_the_same_frame_either_way(
    capture: Path, native: bool
) -> None:
    small = FileShare(1, 2)
    small.assigner = ShardAssigner(2, max_flows=64, native=native)
    reference = ShardAssigner(2, max_flows=64)
    kept = []
    for ts, frame, length in read_capture(capture):
        try:
            owner = reference.shard(decode(frame, ts, length))
        except MalformedPacket:
            owner = 0
        if owner == 1:
            kept.append(frame)
    assert [frame for _, frame, _ in read_capture(capture, small)] == kept


def _agrees_with_flow_key(frame: bytes, at: int = 0) -> None:
    """`plain_at` takes exactly the frames `flow_key` reads, and finds its key."""
    buf = b"\x00" * at + frame + b"\xff" * 7  # the frame inside a larger read buffer
    proto, wire, ports = plain_at(buf, at, at + len(frame))
    key = flow_key(frame)
    if key is None:
        assert proto == 0
        return
    src, dst, key_proto, sport, dport = key
    assert proto == key_proto
    assert buf[wire:ports] == src + dst
    assert buf[ports : ports + 4] == sport.to_bytes(2, "big") + dport.to_bytes(2, "big")


def test_the_in_place_read_takes_what_the_fast_path_takes(capture: Path) -> None:
    for _, frame, _ in read_capture(capture):
        for variant in [frame, *_mutations(frame)]:
            _agrees_with_flow_key(variant, at=37)


@settings(max_examples=1500, deadline=None)
@given(_HEADERS, st.binary(max_size=90))
def test_random_headers_are_read_in_place_as_the_fast_path_reads_them(
    start: bytes, rest: bytes
) -> None:
    frame = bytearray(b"\x02" * 12 + start + rest)
    for proto in (6, 17):
        protocol_at = 12 + len(start) - 1 + (9 if start.endswith(b"\x45") else 6)
        if len(frame) > protocol_at:
            frame[protocol_at] = proto  # random bytes rarely name TCP or UDP
        _agrees_with_flow_key(bytes(frame), at=5)
