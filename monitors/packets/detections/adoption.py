"""IPv6 adoption per segment: the migration's progress as the wire sees it.

Configuration says a segment is dual-stack; traffic says whether anyone uses
IPv6. For every segment (node LAN, else zone, from the address plan) this
counts flows and bytes per address family, credited to the segment of each
endpoint (a flow between two segments counts for both). The sensor reports
them as `yunwang_packets_segment_{flows,bytes}_total{segment,family}` and
the IPv6 share as `yunwang_packets_ipv6_{flow,byte}_ratio{segment}`. No
events: a ratio is a trend to watch, not an alarm.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..decode import Packet
from ..flows import Flow
from ..policy import SensorPolicy
from ..signature import Detection, Emit, override

UNPLANNED = "unplanned"


@dataclass(frozen=True)
class AdoptionThresholds:
    max_segments: int = 10_000


@dataclass
class FamilyCounts:
    flows: int = 0
    bytes: int = 0


class Ipv6Adoption(Detection):
    key = "adoption"
    signatures = ()

    def __init__(self, emit: Emit, observer: str, policy: SensorPolicy) -> None:
        super().__init__(emit, observer, policy)
        self.thresholds = override(
            AdoptionThresholds(), policy.thresholds.get(self.key, {}), self.key
        )
        self._segments = policy.segments
        # (segment, 4|6) -> counts of flows seen and bytes of flows already expired
        self.totals: dict[tuple[str, int], FamilyCounts] = {}
        self._live: dict[int, tuple[Flow, tuple[FamilyCounts, ...]]] = {}

    def on_flow(self, packet: Packet, flow: Flow) -> None:
        lookup, totals, version = self._segments.lookup, self.totals, flow.version
        client, server = lookup(flow.client), lookup(flow.server)
        # A flow counts for the segment of each end, once; unplanned if neither has one.
        if client is None or client == server:
            client, server = server or UNPLANNED, None
        first = totals.get((client, version)) or self._entry(client, version)
        counts: tuple[FamilyCounts, ...] = (first,)
        if server is not None:
            counts = (first, totals.get((server, version)) or self._entry(server, version))
        for entry in counts:
            entry.flows += 1
        self._live[id(flow)] = (flow, counts)

    def _entry(self, segment: str, version: int) -> FamilyCounts:
        """A new segment's totals (unplanned's, once there are too many segments)."""
        key = (segment, version)
        if len(self.totals) >= self.thresholds.max_segments:
            key = (UNPLANNED, version)
        return self.totals.setdefault(key, FamilyCounts())

    def on_expire(self, flow: Flow) -> None:
        live = self._live.pop(id(flow), None)
        if live is not None:
            for entry in live[1]:
                entry.bytes += flow.bytes

    def snapshot(self) -> dict[tuple[str, int], FamilyCounts]:
        """Flows and bytes per (segment, family), live flows included.

        Called from the metrics server's thread while capture goes on: the
        `list(...)` copies are atomic under the GIL, iterating live dicts is not.
        """
        totals = list(self.totals.items())
        result = {key: FamilyCounts(c.flows, c.bytes) for key, c in totals}
        by_identity = {id(c): key for key, c in totals}
        for flow, counts in list(self._live.values()):
            for entry in counts:
                key = by_identity.get(id(entry))
                if key is not None:
                    result[key].bytes += flow.bytes
        return result
