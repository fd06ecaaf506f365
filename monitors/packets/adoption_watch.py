"""The packet sensor on a migration batch's segments: what the wire shows, not the configuration.

While a host batch's gates probe (ping6, ssh over IPv6 and IPv4 ping from
the NMS), the packet sensor (monitors/packets, its `adoption` detection)
captures on each migrated host's segment and counts flows per address
family. The gate fails for a segment on which no IPv6 flow was seen during
the window: the hosts hold their addresses, yet nothing reaches them over
IPv6 on the wire. Every window starts from zero, so any IPv6 flow seen is
the segment's adoption counter rising during the batch's gate.

In the lab the sensor listens on the segment's bridge inside its router's
namespace, where a SPAN port would be: routed traffic to and from the
segment's hosts crosses it, the router's own traffic on its uplinks does
not. Only host batches have a segment to watch: a router batch's gate probes
the router itself, which never crosses its LAN. The IPv6 migration's gate
(playbooks/migration.py) takes it as a `SegmentWatch`; the verb wires the
lab's segments to it (yunwang/commands/_adoption.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from ipaddress import ip_network

from monitors.packets.live import CaptureError, LiveCapture
from monitors.packets.policy import SensorPolicy
from monitors.packets.sensor import Sensor

# Enters a network namespace by name for the length of a `with` (lab.netns.entered).
EnterNamespace = Callable[[str], AbstractContextManager[object]]

# The probes' traffic is IPv4 and IPv6; ARP and neighbour discovery are not flows.
_BPF = "ip or ip6"
_JOIN_S = 2.0  # a capture ends within 0.2 s of being told


@dataclass(frozen=True)
class SegmentTap:
    """Where the sensor listens for one segment."""

    name: str  # the segment, e.g. "lan:hl-zyl"
    router: str  # the node holding it
    interface: str  # its bridge (or a SPAN port) as the sensor's host names it
    prefixes: tuple[str, ...]  # the segment's networks, both families
    hosts: tuple[str, ...]  # the batch's hosts on it
    namespace: str | None = None  # the network namespace to capture in (the lab)


class _SegmentSensor:
    """One segment's sensor: a live capture fed to a Sensor in its own thread."""

    def __init__(self, tap: SegmentTap, enter: EnterNamespace | None) -> None:
        self.tap = tap
        policy = SensorPolicy(source=f"segment {tap.name}")
        for prefix in tap.prefixes:
            policy.segments.add(ip_network(prefix, strict=False), tap.name)
        self.sensor = Sensor(policy, observer=f"migration {tap.name}", keep_events=False)
        self.error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"adoption {tap.name}", daemon=True)
        try:
            self._capture: LiveCapture | None = _open(tap, enter)
        except CaptureError as exc:  # one segment's sensor failing fails only its gate
            self._capture = None
            self.error = f"no capture on {tap.router}: {exc}"
            return
        self._thread.start()

    def _run(self) -> None:
        assert self._capture is not None
        try:
            records = self._capture.records(stop=self._stop, stats=self.sensor.stats)
            self.sensor.feed_all(records)
        except OSError as exc:  # the interface went away under the capture
            self.error = f"capture on {self.tap.router} {self.tap.interface} failed: {exc}"

    def flows(self) -> tuple[int, int]:
        """(IPv6 flows, IPv4 flows) credited to the segment so far."""
        seen = self.sensor.adoption.snapshot()
        v6, v4 = seen.get((self.tap.name, 6)), seen.get((self.tap.name, 4))
        return (v6.flows if v6 else 0), (v4.flows if v4 else 0)

    def close(self) -> None:
        if self._capture is None:
            return
        self._stop.set()
        self._thread.join(_JOIN_S)
        self._capture.close()


def _open(tap: SegmentTap, enter: EnterNamespace | None) -> LiveCapture:
    """The capture socket, opened inside the tap's namespace (it stays there)."""
    if tap.namespace is None:
        return LiveCapture(tap.interface, bpf=_BPF)
    if enter is None:
        raise CaptureError(f"{tap.interface}: no way to enter namespace {tap.namespace}")
    with enter(tap.namespace):
        return LiveCapture(tap.interface, bpf=_BPF)


class AdoptionWatch:
    """The sensors of one batch's segments, for the length of its gate."""

    def __init__(self, taps: list[SegmentTap], enter: EnterNamespace | None = None) -> None:
        self.sensors = [_SegmentSensor(tap, enter) for tap in taps]

    def findings(self) -> list[str]:
        """One per host on a segment that has shown no IPv6 flow yet."""
        found = []
        for s in self.sensors:
            v6, v4 = s.flows()
            if v6 and not s.error:
                continue
            tap = s.tap
            seen = s.error or f"{v6} IPv6 flows, {v4} IPv4 flows during the gate"
            found += [
                f"{host}: IPv6 adoption on segment {tap.name} (sensor on {tap.router} "
                f"{tap.interface}): {seen}"
                for host in tap.hosts
            ]
        return found

    def seen(self) -> dict[str, dict[str, int]]:
        """Per segment: the flows of each family the sensor counted."""
        result = {}
        for s in self.sensors:
            v6, v4 = s.flows()
            result[s.tap.name] = {"ipv6_flows": v6, "ipv4_flows": v4}
        return result

    def close(self) -> None:
        for s in self.sensors:
            s.close()
