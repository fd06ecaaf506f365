"""Packet sensors: raw frames to ECS events and Prometheus metrics.

`Sensor` runs every detection over frames from `read_capture` (pcap/pcapng)
or `LiveCapture` (a scapy socket with a BPF filter); `SensorPolicy` carries
what the estate declares; `SensorCollector` exposes the counters.
"""

from .capture import PcapError, read_capture
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
    "decode",
    "read_capture",
]
