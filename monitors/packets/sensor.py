"""The sensor: frames in, events and counters out.

`Sensor.feed_all(records)` is the hot path. It keeps the flow table and
calls each detection's hooks only for the packets that hook is about: ARP
frames, Router Advertisements, DHCP server messages, the first packet of a
flow and its first answer. A packet of an established flow costs one
unpack of its headers (`fastpath.flow_key`), one dict lookup and three
attribute updates; every other frame is decoded into a `Packet`.

A detection that raises on a crafted packet is a sensor bug, but it must not
stop the sensor on a hostile wire: the packet is counted as malformed, the
first such error is kept for the operator, and capture goes on.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from time import sleep
from typing import Final

from security.events import Event

from .decode import (
    ETH_ARP,
    PROTO_ICMPV6,
    PROTO_TCP,
    PROTO_UDP,
    TCP_RST,
    MalformedPacket,
    Packet,
    decode,
    decode_arp,
)
from .detections import DETECTIONS
from .detections.adoption import Ipv6Adoption
from .detections.dhcp import is_dhcp_server_message
from .detections.gateway import NEIGHBOR_ADVERT
from .detections.ndp import ROUTER_ADVERT
from .fastpath import DHCP_SERVER_PORTS, flow_key
from .flows import Flow, FlowKey, new_flow
from .policy import SensorPolicy
from .signature import Detection, ThresholdError, override

Sink = Callable[[Event], None]
_FLOW_PROTOS = frozenset({PROTO_TCP, PROTO_UDP})


@dataclass(frozen=True)
class FlowThresholds:
    idle_timeout_s: float = 120.0
    sweep_every_s: float = 10.0
    max_flows: int = 500_000


@dataclass
class SensorStats:
    seen: int = 0
    parsed: int = 0
    malformed: int = 0
    dropped: int = 0
    unsupported: int = 0
    events: Counter[str] = field(default_factory=Counter)
    detection_errors: int = 0
    first_error: str | None = None


_YIELD_EVERY: Final = 0xFF  # frames between two GIL hand-overs, less one


class _Emitter:
    """Counts each event raised and hands it to the sinks.

    Its own object rather than a method of the sensor: every detection
    holds it, and a bound method would make each sensor a reference cycle,
    kept (with every flow and window it holds) until the cyclic collector
    runs, which `settle_memory` makes rare."""

    def __init__(self, stats: SensorStats, sinks: list[Sink]) -> None:
        self.stats = stats
        self.sinks = sinks

    def __call__(self, event: Event) -> None:
        self.stats.events[event.rule_id or event.action] += 1
        for sink in self.sinks:
            sink(event)


class Sensor:
    def __init__(
        self,
        policy: SensorPolicy,
        observer: str = "yunwang-sensor",
        sinks: Iterable[Sink] = (),
        keep_events: bool = True,
    ) -> None:
        """`sinks` receive every event as it is raised; `keep_events` also
        keeps them in `self.events` (off for long live runs: memory)."""
        known = {d.key for d in DETECTIONS} | {"flows"}
        for key in policy.thresholds:
            if key not in known:
                expected = ", ".join(sorted(known))
                raise ThresholdError(
                    f"thresholds.{key}: unknown detection (expected one of {expected})"
                )
        self.policy = policy
        self.stats = SensorStats()
        self.events: list[Event] = []
        held = list(sinks)
        if keep_events:
            held.insert(0, self.events.append)
        self._emit = _Emitter(self.stats, held)
        self.flow_thresholds = override(
            FlowThresholds(), policy.thresholds.get("flows", {}), "thresholds.flows"
        )
        self.detections: list[Detection] = [d(self._emit, observer, policy) for d in DETECTIONS]
        self.adoption = next(d for d in self.detections if isinstance(d, Ipv6Adoption))
        self._on_arp = _hooks(self.detections, "on_arp")
        self._on_flow = _hooks(self.detections, "on_flow")
        self._on_answer = _hooks(self.detections, "on_answer")
        self._on_router_advert = _hooks(self.detections, "on_router_advert")
        self._on_neighbor_advert = _hooks(self.detections, "on_neighbor_advert")
        self._on_dhcp = _hooks(self.detections, "on_dhcp")
        self._on_sweep = _hooks(self.detections, "on_sweep")
        self.flows: dict[FlowKey, Flow] = {}
        self._next_sweep = 0.0

    def feed(self, ts: float, frame: bytes, length: int = 0) -> None:
        self.feed_all(((ts, frame, length),))

    def feed_packet(self, packet: Packet) -> None:
        """A decoded packet (counted in `seen` by the caller)."""
        stats = self.stats
        try:
            proto = packet.proto
            # The common case first and inline: a TCP/UDP packet of a known flow.
            if proto in _FLOW_PROTOS and packet.l4 >= 0:
                if proto == PROTO_UDP and packet.sport in DHCP_SERVER_PORTS:
                    self._dhcp(packet)
                key = (packet.src, packet.dst, proto, packet.sport, packet.dport)
                flow = self._known(key, packet.ts)
                if flow is None:
                    flow = self._open(packet, key)
                if flow is not None:
                    flow.packets += 1
                    flow.bytes += packet.length
                    flow.last_seen = packet.ts
                    if not flow.answered and packet.src == flow.server:
                        self._answered(packet, flow)
            else:
                self._rare(packet)
        except MalformedPacket:  # a body a detection reads (ARP) is not what it claims
            stats.malformed += 1
            return
        except BrokenPipeError:
            raise  # the event consumer went away: that ends sensing, it is not a packet's fault
        except Exception as exc:  # a hostile packet must not stop the sensor
            stats.malformed += 1
            self._detection_failed(exc)
            return
        stats.parsed += 1

    def _detection_failed(self, exc: Exception) -> None:
        self.stats.detection_errors += 1
        if self.stats.first_error is None:
            self.stats.first_error = f"{type(exc).__name__}: {exc}"

    def feed_all(self, records: Iterable[tuple[float, bytes, int]]) -> None:
        """Every record: a frame of a known flow that needs no detection only
        updates the flow (`fastpath`); any other is decoded and fed."""
        stats = self.stats
        flows = self.flows
        feed_packet = self.feed_packet
        idle = self.flow_thresholds.idle_timeout_s
        for ts, frame, length in records:
            stats.seen += 1
            if not stats.seen & _YIELD_EVERY:
                # Compiled (monitors/packets/compiled.py), this loop runs no
                # bytecode, so the interpreter never hands the GIL to another
                # thread from inside it: watch's poll thread would wait for
                # the whole capture. Let it in every 256 frames.
                sleep(0)
            key = flow_key(frame)
            if key is not None:
                flow = flows.get(key)
                # The server's first packet is the one the detections see as an
                # answer; a flow idle past its timeout ends (`_known`).
                if (
                    flow is not None
                    and (flow.answered or key[0] != flow.server)
                    and ts - flow.last_seen <= idle
                ):
                    flow.packets += 1
                    flow.bytes += length or len(frame)
                    flow.last_seen = ts
                    stats.parsed += 1
                    continue
            try:
                packet = decode(frame, ts, length)
            except MalformedPacket:
                stats.malformed += 1
                continue
            feed_packet(packet)

    def feed_all_decoded(self, records: Iterable[tuple[float, bytes, int]]) -> None:
        """Every record decoded and fed whole: `feed_all` without its fast path,
        the reference the fast path is tested and measured against."""
        for ts, frame, length in records:
            self.stats.seen += 1
            try:
                packet = decode(frame, ts, length)
            except MalformedPacket:
                self.stats.malformed += 1
                continue
            self.feed_packet(packet)

    def _rare(self, packet: Packet) -> None:
        """ARP, ICMP, fragments and other protocols (the flow part repeats
        `feed`'s inline path, which saves a call on nearly every packet)."""
        proto = packet.proto
        if proto < 0:
            if packet.ethertype == ETH_ARP:
                arp = decode_arp(packet)
                for hook in self._on_arp:
                    hook(packet, arp)
            else:
                self.stats.unsupported += 1
            return
        if proto == PROTO_ICMPV6:
            if packet.icmp_type == ROUTER_ADVERT:
                for hook in self._on_router_advert:
                    hook(packet)
                return
            if packet.icmp_type == NEIGHBOR_ADVERT:
                for hook in self._on_neighbor_advert:
                    hook(packet)
                return
        if packet.l4 < 0:
            return  # a non-first fragment: no ports, not a flow of its own
        key = (packet.src, packet.dst, proto, packet.sport, packet.dport)
        flow = self._known(key, packet.ts)
        if flow is None:
            flow = self._open(packet, key)
            if flow is None:
                return
        flow.packets += 1
        flow.bytes += packet.length
        flow.last_seen = packet.ts
        if not flow.answered and packet.src == flow.server:
            self._answered(packet, flow)

    def _dhcp(self, packet: Packet) -> None:
        if is_dhcp_server_message(packet):
            for hook in self._on_dhcp:
                hook(packet)

    def _answered(self, packet: Packet, flow: Flow) -> None:
        """The server's first packet; a TCP reset is a refusal, not an answer."""
        if packet.proto == PROTO_TCP and packet.tcp_flags & TCP_RST:
            return
        flow.answered = True
        for hook in self._on_answer:
            hook(packet, flow)

    def _known(self, key: FlowKey, ts: float) -> Flow | None:
        """The live flow of `key` at `ts`. A flow idle past the timeout ends
        here, when its next packet comes, not only when a sweep finds it:
        sweeps run when new flows open, so when they run depends on the rest
        of the traffic, and a flow's life must depend on its own packets
        alone (a process sensing a share of the traffic sees other sweeps)."""
        flow = self.flows.get(key)
        if flow is not None and ts - flow.last_seen > self.flow_thresholds.idle_timeout_s:
            self._expire(flow)
            return None
        return flow

    def _expire(self, flow: Flow) -> None:
        forward = (flow.client, flow.server, flow.proto, flow.client_port, flow.server_port)
        reverse = (flow.server, flow.client, flow.proto, flow.server_port, flow.client_port)
        self.flows.pop(forward, None)
        self.flows.pop(reverse, None)
        self.adoption.on_expire(flow)

    def _open(self, packet: Packet, key: FlowKey) -> Flow | None:
        flow = new_flow(packet)
        if flow is None:
            return None
        if packet.ts >= self._next_sweep or len(self.flows) >= 2 * self.flow_thresholds.max_flows:
            self.sweep(packet.ts)
        reverse = (packet.dst, packet.src, packet.proto, packet.dport, packet.sport)
        self.flows[key] = flow
        self.flows[reverse] = flow
        for hook in self._on_flow:
            hook(packet, flow)
        return flow

    def sweep(self, now: float, everything: bool = False) -> None:
        """Forget flows idle for `idle_timeout_s` (all of them when `everything`)."""
        limits = self.flow_thresholds
        self._next_sweep = now + limits.sweep_every_s
        horizon = now - limits.idle_timeout_s
        expired = [
            key for key, flow in self.flows.items() if everything or flow.last_seen < horizon
        ]
        if not everything and len(self.flows) - len(expired) >= 2 * limits.max_flows:
            # Still full of busy flows: drop the oldest half rather than grow.
            expired = list(self.flows)[: len(self.flows) // 2]
        for key in expired:
            flow = self.flows.pop(key, None)
            if flow is not None and flow.client == key[0]:
                self.adoption.on_expire(flow)
        for hook in self._on_sweep:
            try:
                hook(now)
            except BrokenPipeError:
                raise
            except Exception as exc:  # as in `feed_packet`: one detection's bug, not the end
                self._detection_failed(exc)

    def close(self) -> None:
        """End of capture: fold every live flow into the totals."""
        self.sweep(float("inf"), everything=True)


def settle_memory(*, reading_file: bool = False) -> None:
    """Call once the estate and policy are loaded, before capturing.

    The sensor allocates millions of short-lived, acyclic objects. With the
    default thresholds CPython's cyclic collector runs every 700 allocations
    and, every few runs, walks every object alive: the estate's thousands of
    nodes, the prefix tables, the flow table. Freezing what is loaded so far
    and collecting young objects less often removed ~30 % of the sensor's
    CPU time in bench/packets_bench.py. Nothing the sensor keeps forms
    cycles (tests/packets/test_memory.py), so memory is still returned
    promptly by reference counting.

    What the collector still costs is walking the objects that survive:
    the flows, their keys, the scan windows, each once while young and
    again at every walk of an older generation. Reading a file, the sensor
    has no ring to overflow while the collector walks, so it lets a million
    objects accumulate between walks instead of 50,000: a file whose sensor
    never holds a million at once (the bench's 6,000-connection mix leaves
    ~70,000) ends before the first walk, and a larger one walks its older
    generations 20 times less often (bench/RESULTS.md, "The
    collector while reading a file"). Live, a walk is a pause the ring must
    absorb, so it stays short.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(1_000_000 if reading_file else 50_000, 20, 100)
    if reading_file:
        _reuse_freed_memory()


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3


def _reuse_freed_memory() -> None:
    """Let the C allocator keep freed memory for reuse while a file is read.

    A capture is read a megabyte at a time (`capture._CHUNK`), and glibc
    maps each chunk fresh and returns it at once: the kernel zeroes and
    faults in every page of every chunk, a third of what a sensor process
    spends skipping the records other processes own (bench/RESULTS.md, "A
    capture file split in C"). Serving chunks below 4 MB from the heap, and
    keeping up to 64 MB of it free, reuses the same pages instead. Only this
    process's allocator changes; elsewhere than glibc nothing does.
    """
    import ctypes  # here: only a file reader pays for the import

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_TRIM_THRESHOLD, 64 << 20)
    mallopt(_M_MMAP_THRESHOLD, 4 << 20)


def _hooks(detections: list[Detection], name: str) -> list[Callable[..., None]]:
    base = getattr(Detection, name)
    return [getattr(d, name) for d in detections if getattr(type(d), name) is not base]
