"""A capture file relayed: process 0 reads it once and hands each other
process its records through a ring in shared memory (`shards.FileShare`
with `relay_rings`, `split.c`).

What must hold: a record crosses the ring whole and in order, also past
the ring's end and while the ring is full; a new client goes to the
process least behind, and a client seen before stays where it went;
every flow and every client's flows stay in one process, every record
lands in exactly one, and what is no client's stays in process 0; a
process that dies fails the run in one line instead of leaving the others
waiting on it. tests/packets/test_parallel.py and test_parallel_edges.py
compare the events of relayed runs with one process's.
"""

from __future__ import annotations

import mmap
import os
import random
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from monitors.packets import Sensor, SensorPolicy, decode, read_capture
from monitors.packets.capture import MAX_RECORD
from monitors.packets.decode import MalformedPacket
from monitors.packets.flows import new_flow
from monitors.packets.parallel import Outcome, WorkerError, _run
from monitors.packets.shards import (
    RING_ABORTED,
    RING_ENDED,
    RING_RUNNING,
    FileShare,
    ShardAssigner,
    client_word,
    relay_rings,
)
from monitors.packets.synthetic import hosts_in, mixed_traffic
from tests.packets.sharding import write_capture
from tests.packets.test_file_share import _local_and_equal_ports, _odd_first_frames

if TYPE_CHECKING:
    from monitors.packets._split import Splitter

needs_build = pytest.mark.skipif(
    not ShardAssigner(2).native, reason="the sensor is not compiled (make compile)"
)
pytestmark = needs_build

Record = tuple[float, bytes, int]
T = 1_760_000_000.0
BACKLOG_LOW = 512  # split.c
BACKLOG_BYTES = 512 << 10  # split.c


def _splitters(shards: int) -> list[Splitter]:
    """A relay (index 0) and its readers, in this one process, on shared rings."""
    from monitors.packets._split import Splitter

    rings = relay_rings(shards)
    assert rings is not None
    splitters = []
    for index in range(shards):
        splitter = Splitter(shards, 1000)
        splitter.relay(rings, index)
        splitters.append(splitter)
    return splitters


def _records(count: int, seed: int) -> list[Record]:
    rng = random.Random(seed)
    sizes = [0, 1, 7, 8, 9, MAX_RECORD] + [rng.randrange(1, 2000) for _ in range(count - 6)]
    return [(T + i / 1000, rng.randbytes(size), size + i % 3) for i, size in enumerate(sizes)]


def _file_of(tmp_path: Path, records: list[Record]) -> tuple[mmap.mmap, list[int]]:
    """The frames laid end to end in a file, mapped, and where each starts."""
    path = tmp_path / "frames"
    offsets, at = [], 0
    with path.open("wb") as out:
        for _, frame, _ in records:
            offsets.append(at)
            out.write(frame)
            at += len(frame)
        out.write(bytes(1))  # a file of frames all empty is still a file to map
    with path.open("rb") as handle:
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ), offsets


def test_records_cross_the_ring_whole_and_in_order_past_its_end_and_while_it_is_full(
    tmp_path: Path,
) -> None:
    relay, reader = _splitters(2)
    sent = _records(20_000, seed=7)  # five times what the ring holds
    file, offsets = _file_of(tmp_path, sent)
    received: list[Record] = []

    def read() -> None:  # slower than the relay, so it waits on a full ring
        while True:
            batch = reader.drain(file)
            received.extend(batch)
            if not batch:
                if reader.ring_state()[0] != RING_RUNNING:
                    received.extend(reader.drain(file))
                    return
                threading.Event().wait(0.001)
            threading.Event().wait(0.0002)

    thread = threading.Thread(target=read)
    thread.start()
    for record, offset in zip(sent, offsets, strict=True):
        relay.forward(1, record, offset)
    relay.finish(RING_ENDED, 0, 0)
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert received == sent
    assert reader.ring_state() == (RING_ENDED, 0, 0)


def test_a_frame_past_the_mapped_file_waits_for_a_larger_map(tmp_path: Path) -> None:
    relay, reader = _splitters(2)
    sent = _records(10, seed=3)[6:]  # a few small frames
    file, offsets = _file_of(tmp_path, sent)
    for record, offset in zip(sent, offsets, strict=True):
        relay.forward(1, record, offset)
    relay.forward(1, (T, bytes(100), 100), len(file))  # written after the map was made
    assert reader.drain(file) == sent
    assert reader.beyond == len(file) + 100
    assert reader.drain(file) == [] and reader.beyond == len(file) + 100
    bigger = mmap.mmap(-1, len(file) + 100)
    assert reader.drain(bigger) == [(T, bytes(100), 100)] and reader.beyond == -1


def test_a_new_client_goes_to_the_process_least_behind_and_a_known_one_stays(
    tmp_path: Path,
) -> None:
    relay, first, second = _splitters(3)
    file, _ = _file_of(tmp_path, [(T, bytes(60_000), 60_000)])
    record = (T, bytes(60), 60)
    assert relay.owner(100) == 1  # nothing waits anywhere
    for _ in range(BACKLOG_LOW):
        relay.forward(1, record, 0)
    assert relay.owner(101) == 2
    for _ in range(BACKLOG_LOW):
        relay.forward(2, record, 0)
    assert relay.owner(102) == 0  # both behind: the relay's own
    assert [relay.owner(w) for w in (100, 101, 102)] == [1, 2, 0]
    while first.drain(file):
        pass
    assert relay.owner(103) == 1
    assert [relay.owner(w) for w in (100, 101, 102)] == [1, 2, 0]
    assert len(second.drain(file)) == 256  # a batch at most


def test_large_frames_waiting_make_a_process_busy_however_few_they_are(tmp_path: Path) -> None:
    relay, reader = _splitters(2)
    large = (T, bytes(60_000), 60_000)
    file, _ = _file_of(tmp_path, [large])
    for _ in range(BACKLOG_BYTES // 60_000):
        relay.forward(1, large, 0)
    assert relay.owner(100) == 1
    relay.forward(1, large, 0)  # now past BACKLOG_BYTES waiting
    assert relay.owner(101) == 0
    reader.drain(file)
    assert relay.owner(102) == 1


def test_each_side_refuses_the_other_side_s_calls(tmp_path: Path) -> None:
    relay, reader = _splitters(2)
    file, _ = _file_of(tmp_path, [(T, b"x", 1)])
    with pytest.raises(RuntimeError):
        relay.drain(file)
    with pytest.raises(RuntimeError):
        reader.forward(1, (T, b"x", 1), 0)
    with pytest.raises(RuntimeError):
        reader.finish(RING_ENDED, 0, 0)
    with pytest.raises(RuntimeError):
        reader.take(bytearray(64), 64, True, 1e-6, 1)
    with pytest.raises(RuntimeError):
        relay.relay(mmap.mmap(-1, 1 << 23), 0)
    with pytest.raises(ValueError):
        relay.forward(2, (T, b"x", 1), 0)
    with pytest.raises(ValueError):
        relay.forward(1, (T, bytes(MAX_RECORD + 1), 1), 0)
    with pytest.raises(ValueError):
        relay.forward(1, (T, b"x", 1), -1)
    relay.finish(RING_ABORTED, 0, 0)
    assert reader.ring_state()[0] == RING_ABORTED


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    extranet = hosts_in("198.18.1.0/24", "2001:db8:3900:1::/64", 40, 0x100)
    exchange = hosts_in("198.18.8.0/24", "2001:db8:3900:800::/64", 40, 0x200)
    frames = [frame for _, frame in mixed_traffic(extranet, exchange, 400, seed=11)]
    frames += _local_and_equal_ports() + _odd_first_frames()
    path = tmp_path_factory.mktemp("relay") / "relay.pcap"
    return write_capture(path, ((T + i * 1e-4, f) for i, f in enumerate(frames)))


def _relayed(policy: SensorPolicy, path: Path, shards: int) -> list[list[Record]]:
    """Each process's records, relayed (forked as `sense_file` forks)."""
    rings = relay_rings(shards)

    def work(index: int, sensor: Sensor) -> Outcome:
        outcome = Outcome(sensor.stats, {})
        for ts, frame, length in read_capture(path, FileShare(index, shards, rings)):
            outcome.lines.append((datetime.fromtimestamp(ts, UTC), f"{frame.hex()} {length}"))
        return outcome

    shares = _run(lambda: Sensor(policy, observer="test"), shards, work)
    return [
        [
            (ts.timestamp(), bytes.fromhex(line.split()[0]), int(line.split()[1]))
            for ts, line in o.lines
        ]
        for o in shares
    ]


@pytest.mark.parametrize("shards", [2, 3])
def test_relayed_shares_keep_every_flow_and_client_whole(
    policy: SensorPolicy, capture: Path, shards: int
) -> None:
    records = list(read_capture(capture))
    shares = _relayed(policy, capture, shards)
    where: dict[Record, int] = {}
    for index, share in enumerate(shares):
        for record in share:
            where.setdefault(record, index)
    assert sorted(r for share in shares for r in share) == sorted(records)  # a partition
    for share in shares:  # each in file order
        mine = set(share)
        assert share == [r for r in records if r in mine]
    assert all(len(share) > len(records) // (4 * shards) for share in shares)  # spread

    flows: dict[frozenset[tuple[bytes, int]], set[int]] = {}
    clients: dict[bytes, set[int]] = {}
    client_of: dict[frozenset[tuple[bytes, int]], bytes] = {}
    for record in records:
        ts, frame, length = record
        try:
            packet = decode(frame, ts, length)
        except MalformedPacket:
            assert where[record] == 0
            continue
        if packet.sport < 0 or packet.proto not in (6, 17):
            if client_word(packet) is None:
                assert where[record] == 0  # ARP, ICMP, extension headers: the segment's
            continue
        ends = frozenset({(packet.src, packet.sport), (packet.dst, packet.dport)})
        flows.setdefault(ends, set()).add(where[record])
        if ends not in client_of and (flow := new_flow(packet)) is not None:
            client_of[ends] = flow.client
    for ends, client in client_of.items():
        clients.setdefault(client, set()).update(flows[ends])
    assert all(len(owners) == 1 for owners in flows.values())
    assert all(len(owners) == 1 for owners in clients.values())
    assert len(clients) > 50


@pytest.fixture(scope="module")
def jumbo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Large frames from many clients: more than a ring holds for a reader."""
    clients = hosts_in("198.18.1.0/24", "2001:db8:3900:1::/64", 60, 0x100)
    server = hosts_in("198.18.2.0/24", "2001:db8:3900:2::/64", 1, 0x300)[0]
    payload = Raw(bytes(60_000))

    def frames() -> Iterator[tuple[float, bytes]]:
        for i in range(600):
            client = clients[i % len(clients)]
            layers = IP(src=client.ipv4, dst=server.ipv4) / TCP(sport=40000 + i % 7, dport=443)
            yield T + i * 1e-3, bytes(Ether() / layers / payload)

    return write_capture(tmp_path_factory.mktemp("jumbo") / "jumbo.pcap", frames())


@pytest.mark.parametrize("dies", [0, 1], ids=["the-relay", "a-reader"])
def test_a_process_that_dies_fails_the_run_in_one_line(
    policy: SensorPolicy, jumbo: Path, dies: int
) -> None:
    rings = relay_rings(2)

    def work(index: int, sensor: Sensor) -> Outcome:
        if index == dies:
            os.kill(os.getpid(), signal.SIGKILL)
        sensor.feed_all(read_capture(jumbo, FileShare(index, 2, rings)))
        return Outcome(sensor.stats, {})

    def hung(signum: int, frame: object) -> None:
        raise AssertionError("the run waited on a dead process")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        with pytest.raises(
            WorkerError, match=rf"^worker {dies} ended without a result \(exit -9\)$"
        ):
            _run(lambda: Sensor(policy, observer="test"), 2, work)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
