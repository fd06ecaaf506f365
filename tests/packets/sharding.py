"""What the sharded-sensing tests share: a capture written from frames, and
one process's sense of it to compare N processes with."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

from monitors.packets import Sensor, SensorPolicy, read_capture
from monitors.packets.capture import PcapWriter


def write_capture(path: Path, frames: Iterable[tuple[float, bytes]]) -> Path:
    with PcapWriter(path) as writer:
        for ts, frame in sorted(frames):
            writer.write(ts, frame)
    return path


def one_process(policy: SensorPolicy, path: Path) -> Sensor:
    """The capture sensed by one process, closed."""
    sensor = Sensor(policy, observer="test")
    sensor.feed_all(read_capture(path))
    sensor.close()
    return sensor


def as_pcapng(path: Path, converted: Path) -> Path:
    """The capture rewritten as pcapng by editcap (installed by
    ci/setup.d/40-packets.sh), the format dumpcap and Wireshark write."""
    subprocess.run(["editcap", "-F", "pcapng", str(path), str(converted)], check=True, timeout=60)
    return converted
