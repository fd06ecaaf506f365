"""Cross-zone flows the isolation matrix forbids.

Zones (cloud, extranet, internet) are the plan's isolation boundaries;
security groups enforce them, this detection verifies it on the wire. Each
flow's client and server are mapped to zones with the estate's address plan
(`zone_of`); a flow between two different zones that `allowed(src, dst,
protocol, port)` refuses is `ywpkt-zone-forbidden-flow`.

"Once per flow" means once per (client, server, protocol, service port):
the isolation matrix speaks of services, and a client opening a hundred
connections to one forbidden service is one finding, not a hundred. The
verdict is cached per service flow, so the matrix is consulted once.
Addresses in no zone, local-scope traffic and protocols the matrix cannot
name (anything but TCP, UDP, ICMP, ICMPv6) are not judged.

A source that walks a forbidden service across many servers would still
raise one event per server (8,700 for one capture). Like Zeek's notice
suppression, findings are grouped per (source, zone pair, service) in a
window of `window_s` seconds of capture time: the first raises the event at
once (`count` 1), the rest of the window only counts, and when the window
closes (at the sensor's next sweep, or at the end of the capture) one
summary event carries the window's `count` of forbidden service flows and
its `first_seen`/`last_seen`. A window with a single finding has no summary.
"""

from __future__ import annotations

from dataclasses import dataclass

from security.events import SEVERITY_HIGH, Endpoint

from ..decode import Packet, ip_text
from ..flows import TRANSPORT_NAMES, Flow
from ..policy import SensorPolicy
from ..signature import Detection, Emit, Signature, override

FORBIDDEN_FLOW = Signature(
    "ywpkt-zone-forbidden-flow",
    "Flow between zones the isolation matrix forbids",
    "forbidden-cross-zone-flow",
    SEVERITY_HIGH,
    category=("network",),
    type=("connection", "denied"),
)


@dataclass(frozen=True)
class ZoneThresholds:
    max_remembered_flows: int = 1_000_000
    window_s: float = 60.0


@dataclass
class _Window:
    """Forbidden flows of one (source, zone pair, service) since `first`."""

    first: float
    last: float
    count: int
    flow: Flow  # the first one, for the summary's endpoints


WindowKey = tuple[bytes, str, str, str, int | None]


class CrossZoneFlows(Detection):
    key = "zones"
    signatures = (FORBIDDEN_FLOW,)

    def __init__(self, emit: Emit, observer: str, policy: SensorPolicy) -> None:
        super().__init__(emit, observer, policy)
        self.thresholds = override(
            ZoneThresholds(), policy.thresholds.get(self.key, {}), f"thresholds.{self.key}"
        )
        self._zone_of = policy.zone_of
        self._allowed = policy.allowed
        self._zones: dict[bytes, str] = {}  # "" for an address in no zone
        self._judged: set[tuple[bytes, bytes, int, int]] = set()
        self._windows: dict[WindowKey, _Window] = {}

    def _look_up(self, address: bytes) -> str:
        """The address's zone, "" for none, asked of the estate once per address."""
        if len(self._zones) >= self.thresholds.max_remembered_flows:
            self._zones.clear()
        zone = self._zones[address] = self._zone_of(address) or ""
        return zone

    def on_flow(self, packet: Packet, flow: Flow) -> None:
        client, server = flow.client, flow.server
        key = (client, server, flow.proto, flow.server_port)
        judged = self._judged
        if key in judged:
            return
        if len(judged) >= self.thresholds.max_remembered_flows:
            judged.clear()
        judged.add(key)
        protocol = TRANSPORT_NAMES.get(flow.proto)
        if protocol is None:
            return
        # A flow opens every few packets on a busy wire: the cached zones inline.
        zones = self._zones
        client_zone = zones.get(client)
        if client_zone is None:
            client_zone = self._look_up(client)
        server_zone = zones.get(server)
        if server_zone is None:
            server_zone = self._look_up(server)
        if not client_zone or not server_zone or client_zone == server_zone:
            return
        port = flow.service_port
        if self._allowed(client_zone, server_zone, protocol, port):
            return
        group = (flow.client, client_zone, server_zone, protocol, port)
        ts = packet.ts
        window = self._windows.get(group)
        if window is not None and ts - window.first >= self.thresholds.window_s:
            self._close(group, window)
            window = None
        if window is not None:
            window.count += 1
            window.last = max(window.last, ts)
            return
        if len(self._windows) >= self.thresholds.max_remembered_flows:
            self.on_sweep(float("inf"))
        self._windows[group] = _Window(ts, ts, 1, flow)
        self._raise(group, flow, ts, 1, ts)

    def on_sweep(self, now: float) -> None:
        """Close the windows that ended by `now` (capture time)."""
        ended = [
            (key, w)
            for key, w in self._windows.items()
            if now - w.first >= self.thresholds.window_s
        ]
        for key, window in ended:
            self._close(key, window)

    def _close(self, key: WindowKey, window: _Window) -> None:
        del self._windows[key]
        if window.count > 1:
            self._raise(key, window.flow, window.first, window.count, window.last)

    def _raise(self, key: WindowKey, flow: Flow, first: float, count: int, last: float) -> None:
        _client, client_zone, server_zone, protocol, port = key
        client, server = ip_text(flow.client), ip_text(flow.server)
        service = f"{protocol}/{port}" if port is not None else protocol
        where = (
            f"{server} ({server_zone})"
            if count == 1
            else f"{count} flows into {server_zone} (first to {server})"
        )
        self.event(
            FORBIDDEN_FLOW,
            first,
            f"{client} ({client_zone}) -> {where} {service}: not allowed by the isolation matrix",
            source=Endpoint(ip=client, port=flow.client_port if port is not None else None),
            destination=Endpoint(ip=server, port=port),
            transport=protocol,
            network_type="ipv6" if flow.version == 6 else "ipv4",
            at=flow.client,
            labels={
                "source_zone": client_zone,
                "destination_zone": server_zone,
                "count": str(count),
                "first_seen": f"{first:.6f}",
                "last_seen": f"{last:.6f}",
            },
        )
