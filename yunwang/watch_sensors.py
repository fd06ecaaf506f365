"""Live sensing in `yunwang watch --live`: the estate's sensors for this host.

    sensors = open_live(estate, names=(), sink=queue.put)   # monitoring.sensors on this node
    thread(lambda: sensors[0].run(stop))                     # until `stop` is set

A sensor runs here when it is named (`--sensor NAME`) or, with no name
given, when its node is this machine: the node's id is the host name (its
first label), the way hosts are named after the node they serve. Each runs
in its own thread and puts its events in the watch's bounded queue, so a
flood of packets waits for the pipeline (back-pressure) and never delays a
poll cycle.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client.core import Metric

from estate import Estate
from estate.model import Sensor as SensorSpec
from monitors.packets import Sensor
from monitors.packets.estate_policy import policy_from_estate
from monitors.packets.metrics import SensorCollector
from security.events import Event

if TYPE_CHECKING:  # the live capture (scapy) is imported when a sensor opens
    from monitors.packets.live import LiveCapture


class SensorsCollector:
    """Several sensors in one registry: their families merged by name (samples
    differ by the `observer` label), which a registry needs to take them."""

    def __init__(self, collectors: Sequence[SensorCollector]) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        for collector in self.collectors:
            for family in collector.collect():
                if family.name in merged:
                    merged[family.name].samples.extend(family.samples)
                else:
                    merged[family.name] = family
        yield from merged.values()


class LiveSensorError(Exception):
    """A named sensor that is not declared or cannot capture here; str() is one line."""


@dataclass
class LiveSensor:
    spec: SensorSpec
    sensor: Sensor
    capture: LiveCapture

    def run(self, stop: threading.Event) -> None:
        """Capture until `stop`; then fold every open flow into the totals."""
        self.sensor.feed_all(self.capture.records(stats=self.sensor.stats, stop=stop))
        self.sensor.sweep(time.time(), everything=True)

    def close(self) -> None:
        self.capture.close()


def sensors_here(estate: Estate, names: Sequence[str], host: str | None = None) -> list[SensorSpec]:
    """The named sensors, or those whose node is this host."""
    declared = {s.name: s for s in estate.sensors}
    if names:
        unknown = [n for n in names if n not in declared]
        if unknown:
            known = ", ".join(sorted(declared)) or "none"
            raise LiveSensorError(
                f"--sensor {unknown[0]}: not in {estate.file} monitoring.sensors "
                f"(declared: {known})"
            )
        return [declared[n] for n in dict.fromkeys(names)]
    here = (host or socket.gethostname()).split(".")[0]
    return [s for s in estate.sensors if s.node == here]


def open_live(
    estate: Estate, specs: Sequence[SensorSpec], sink: Callable[[Event], None]
) -> list[LiveSensor]:
    """A capture on each sensor's interface, opened now: a missing one fails at start."""
    from monitors.packets.live import CaptureError, LiveCapture, interface_exists

    opened: list[LiveSensor] = []
    try:
        for spec in specs:
            if not interface_exists(spec.interface):
                raise LiveSensorError(
                    f"--sensor {spec.name}: interface {spec.interface} is not on this machine"
                )
            try:
                capture = LiveCapture(spec.interface)
            except CaptureError as exc:
                raise LiveSensorError(f"--sensor {spec.name}: {exc}") from None
            sensor = Sensor(
                policy_from_estate(estate), observer=spec.name, sinks=[sink], keep_events=False
            )
            opened.append(LiveSensor(spec, sensor, capture))
    except LiveSensorError:
        for live in opened:
            live.close()
        raise
    return opened
