"""The sensor's fast path (a known flow's frame read in place) changes nothing.

The reference is the full path for every frame: `decode`, then
`Sensor.feed_packet`. On both kinds of traffic the benchmarks use (the
bench mix and the varied mix: TCP options and payload, DNS, fragments, VLAN
tags, a forbidden-flow storm), plus the attack scenarios and hostile
mutations of frames of flows the sensor already knows (cut short, bogus IP
lengths, bad TCP data offsets, options, fragments, extra tags), the fast
sensor must raise the same events, count the same parsed and malformed
frames, keep the same flow table and the same IPv6 adoption totals.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.packets import Sensor, SensorPolicy, decode
from monitors.packets.fastpath import flow_key
from monitors.packets.synthetic import hosts_in, mixed_traffic, varied_traffic
from tests.packets import scenarios

Record = tuple[float, bytes, int]
EXTRANET = hosts_in("198.18.1.0/24", "2001:db8:3900:1::/64", 40, 0x100)
EXCHANGE = hosts_in("198.18.8.0/24", "2001:db8:3900:800::/64", 20, 0x200)


def _full_path(policy: SensorPolicy, records: Iterable[Record]) -> Sensor:
    """Every frame decoded and fed whole: what the sensor did before the fast path."""
    sensor = Sensor(policy, observer="test")
    sensor.feed_all_decoded(records)
    return sensor


def _fast_path(policy: SensorPolicy, records: Iterable[Record]) -> Sensor:
    sensor = Sensor(policy, observer="test")
    sensor.feed_all(records)
    return sensor


def _flows(sensor: Sensor) -> dict[object, tuple[object, ...]]:
    return {
        key: (f.client, f.server_port, f.packets, f.bytes, f.first_seen, f.last_seen, f.answered)
        for key, f in sensor.flows.items()
    }


def _assert_same(policy: SensorPolicy, records: list[Record]) -> Sensor:
    full, fast = _full_path(policy, records), _fast_path(policy, records)
    assert _flows(fast) == _flows(full)
    full.close()
    fast.close()
    assert [e.id for e in fast.events] == [e.id for e in full.events]
    a, b = fast.stats, full.stats
    assert (a.seen, a.parsed, a.malformed, a.unsupported, a.detection_errors) == (
        b.seen,
        b.parsed,
        b.malformed,
        b.unsupported,
        b.detection_errors,
    )
    assert a.events == b.events
    assert {k: (c.flows, c.bytes) for k, c in fast.adoption.snapshot().items()} == {
        k: (c.flows, c.bytes) for k, c in full.adoption.snapshot().items()
    }
    return fast


def _records(frames: Iterable[tuple[float, bytes]]) -> list[Record]:
    return [(ts, frame, len(frame)) for ts, frame in sorted(frames)]


@pytest.fixture(scope="module")
def bench_mix() -> list[Record]:
    frames = mixed_traffic(EXTRANET, EXTRANET[:10], 150, seed=3)
    frames += mixed_traffic(EXTRANET, EXCHANGE, 60, seed=4, ports=(443, 22, 445))
    start = frames[len(frames) // 2][0]
    frames += [(start + i * 1e-4, bytes(p)) for i, p in enumerate(scenarios.all_frames())]
    return _records(frames)


@pytest.fixture(scope="module")
def varied_mix() -> list[Record]:
    return _records(varied_traffic(EXTRANET, EXTRANET[:10], EXCHANGE, 250, seed=5))


def test_the_bench_mix_gives_the_same_outcome(
    policy: SensorPolicy, bench_mix: list[Record]
) -> None:
    sensor = _assert_same(policy, bench_mix)
    assert sensor.stats.malformed > 0 and len(sensor.events) > 0  # truncated frames, attacks
    # The fast path is taken for most frames (else this test would prove little).
    known = sum(1 for _, frame, _ in bench_mix if flow_key(frame) is not None)
    assert known > len(bench_mix) // 2


def test_the_varied_mix_gives_the_same_outcome(
    policy: SensorPolicy, varied_mix: list[Record]
) -> None:
    sensor = _assert_same(policy, varied_mix)
    assert {e.rule_id for e in sensor.events} == {"ywpkt-zone-forbidden-flow"}


def _mutations(frame: bytes) -> list[bytes]:
    """Hostile variants of a plain frame (`frame` is IPv4 or IPv6 at offset 14)."""
    out = [frame[:cut] for cut in range(min(len(frame), 80))]  # every cut inside the headers
    l3 = 14
    if frame[12:14] == b"\x08\x00":
        for total in (0, 19, 20, 27, 28, 39, 40, 41, len(frame) - 14, 1500, 65535):
            out.append(frame[: l3 + 2] + struct.pack("!H", total) + frame[l3 + 4 :])
        for first in (0x40, 0x44, 0x46, 0x4F, 0x55, 0x65):
            out.append(frame[:l3] + bytes([first]) + frame[l3 + 1 :])
        for fragment in (0x2000, 0x0001, 0x1FFF, 0x4000):  # MF, offsets, DF
            out.append(frame[: l3 + 6] + struct.pack("!H", fragment) + frame[l3 + 8 :])
        l4 = l3 + 20
    else:
        for payload in (0, 7, 8, 19, 20, 21, 65535):
            out.append(frame[: l3 + 4] + struct.pack("!H", payload) + frame[l3 + 6 :])
        for first in (0x40, 0x70, 0x00):
            out.append(frame[:l3] + bytes([first]) + frame[l3 + 1 :])
        l4 = l3 + 40
    for offset in range(16):  # the TCP data offset nibble (for UDP: a payload byte)
        out.append(frame[: l4 + 12] + bytes([offset << 4]) + frame[l4 + 13 :])
    # The same frame behind one tag, two tags and a QinQ tag.
    out.append(frame[:12] + b"\x81\x00\x00\x64" + frame[12:])
    out.append(frame[:12] + b"\x81\x00\x00\x64\x81\x00\x00\x65" + frame[12:])
    out.append(frame[:12] + b"\x88\xa8\x00\x64" + frame[12:])
    out.append(frame[:12] + b"\x81\x00\x00\x64" + frame[12:40])
    return out


def test_hostile_frames_of_known_flows_are_counted_as_the_full_decode_counts(
    policy: SensorPolicy, bench_mix: list[Record], varied_mix: list[Record]
) -> None:
    rng = random.Random(7)
    records = bench_mix + varied_mix
    plain = [
        r
        for r in records
        if flow_key(r[1]) is not None and r[1][12:14] in (b"\x08\x00", b"\x86\xdd")
    ]
    end = max(ts for ts, _, _ in records)
    hostile = [m for _, frame, _ in rng.sample(plain, 40) for m in _mutations(frame)]
    rng.shuffle(hostile)
    tail = [(end + 1 + i * 1e-4, frame, len(frame)) for i, frame in enumerate(hostile)]
    sensor = _assert_same(policy, sorted(records) + tail)
    assert sensor.stats.malformed >= 40 * 40  # at least the cuts inside the headers
    assert sensor.stats.detection_errors == 0


def _agrees_with_decode(frame: bytes) -> None:
    """A key from the fast path is one `decode` gives for an accepted frame."""
    key = flow_key(frame)
    if key is None:
        return
    packet = decode(frame)  # must not raise: the fast path accepts only what decode accepts
    assert key == (packet.src, packet.dst, packet.proto, packet.sport, packet.dport)
    assert packet.l4 >= 0 and not (packet.proto == 17 and packet.sport in (67, 547))


def test_every_fast_key_is_what_decode_reads(
    bench_mix: list[Record], varied_mix: list[Record]
) -> None:
    for _, frame, _ in bench_mix + varied_mix:
        for variant in [frame, *_mutations(frame)]:
            _agrees_with_decode(variant)


_HEADERS = st.sampled_from(
    [
        b"\x08\x00\x45",
        b"\x86\xdd\x60",
        b"\x81\x00\x00\x01\x08\x00\x45",
        b"\x81\x00\x00\x01\x86\xdd\x60",
    ]
)


@settings(max_examples=1500, deadline=None)
@given(_HEADERS, st.binary(max_size=90), st.sampled_from([6, 17]))
def test_random_headers_never_pass_the_fast_path_wrongly(
    start: bytes, rest: bytes, proto: int
) -> None:
    frame = bytearray(b"\x02" * 12 + start + rest)
    protocol_at = 12 + len(start) - 1 + (9 if start.endswith(b"\x45") else 6)
    if len(frame) > protocol_at:
        frame[protocol_at] = proto  # random bytes rarely name TCP or UDP
    _agrees_with_decode(bytes(frame))
