"""The sensor leaves no reference cycles behind, on any traffic.

That is what lets `settle_memory` run CPython's cyclic collector rarely
(every 50,000 surviving objects live, every million from a file): all the
sensor's garbage is freed by reference counting the moment it is dropped,
and the collector only ever walks objects that are still alive. A cycle
would instead wait for the collector, so each one is a leak until then.
Here the collector is off while the sensor reads ordinary traffic, the
varied mix, every attack scenario and hostile frames (cut short, bit
flips: the malformed path raises and catches an exception per frame); a
collection afterwards, with the sensor still in use, must find nothing
unreachable.
"""

from __future__ import annotations

import gc
import random

from monitors.packets import Sensor, SensorPolicy
from monitors.packets.synthetic import hosts_in, mixed_traffic, varied_traffic
from tests.packets import scenarios

EXTRANET = hosts_in("198.18.1.0/24", "2001:db8:3900:1::/64", 40, 0x100)
EXCHANGE = hosts_in("198.18.8.0/24", "2001:db8:3900:800::/64", 20, 0x200)


def _traffic() -> list[tuple[float, bytes, int]]:
    frames = mixed_traffic(EXTRANET, EXTRANET[:10], 120, seed=11)
    frames += varied_traffic(EXTRANET, EXTRANET[:10], EXCHANGE, 150, seed=12)
    start = frames[len(frames) // 2][0]
    frames += [(start + i * 1e-4, bytes(p)) for i, p in enumerate(scenarios.all_frames())]
    rng = random.Random(13)
    hostile: list[tuple[float, bytes]] = []
    for ts, frame in rng.sample(frames, 300):
        hostile.append((ts, frame[: rng.randrange(len(frame))]))
        flipped = bytearray(frame)
        for _ in range(3):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        hostile.append((ts, bytes(flipped)))
    return [(ts, frame, len(frame)) for ts, frame in sorted(frames + hostile)]


def test_sensing_leaves_nothing_for_the_cyclic_collector(policy: SensorPolicy) -> None:
    records = _traffic()
    gc.collect()
    gc.disable()
    try:
        sensor = Sensor(policy, observer="test")
        sensor.feed_all(records)
        sensor.close()
        unreachable = gc.collect()
        stats, events = sensor.stats, len(sensor.events)
        # Dropped, the sensor goes with everything it held (its detections
        # hold its emitter, not the sensor): nothing waits for the collector.
        del sensor
        left_behind = gc.collect()
    finally:
        gc.enable()
    # The run took every path: flows, detections raising events, malformed frames.
    assert stats.parsed > 2000
    assert stats.malformed > 0
    assert events > 10
    assert unreachable == 0
    assert left_behind == 0
