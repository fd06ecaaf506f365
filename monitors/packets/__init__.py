"""Packet sensors: raw frames to ECS events and Prometheus metrics.

`Sensor` runs every detection over frames from `read_capture` (pcap/pcapng)
or `LiveCapture` (a scapy socket with a BPF filter); `SensorPolicy` carries
what the estate declares; `SensorCollector` exposes the counters.
The per-frame modules load from a mypyc build of these sources when there
is one (`compiled`).
"""

from .compiled import prefer_compiled

__path__ = prefer_compiled(__path__, "monitors/packets")

from .capture import PcapError, capture_problem, check_capture, read_capture
from .decode import MalformedPacket, Packet, decode
from .policy import PolicyError, SensorPolicy
from .sensor import Sensor, SensorStats
from .signature import DATASET, ThresholdError

__all__ = [
    "DATASET",
    "MalformedPacket",
    "Packet",
    "PcapError",
    "PolicyError",
    "Sensor",
    "SensorPolicy",
    "SensorStats",
    "ThresholdError",
    "capture_problem",
    "check_capture",
    "decode",
    "read_capture",
]
