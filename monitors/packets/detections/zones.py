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


class CrossZoneFlows(Detection):
    key = "zones"
    signatures = (FORBIDDEN_FLOW,)

    def __init__(self, emit: Emit, observer: str, policy: SensorPolicy) -> None:
        super().__init__(emit, observer, policy)
        self.thresholds = override(ZoneThresholds(), policy.thresholds.get(self.key, {}), self.key)
        self._zone_of = policy.zone_of
        self._allowed = policy.allowed
        self._zones: dict[bytes, str | None] = {}
        self._judged: set[tuple[bytes, bytes, int, int]] = set()

    def zone(self, address: bytes) -> str | None:
        try:
            return self._zones[address]
        except KeyError:
            if len(self._zones) >= self.thresholds.max_remembered_flows:
                self._zones.clear()
            zone = self._zones[address] = self._zone_of(ip_text(address))
            return zone

    def on_flow(self, packet: Packet, flow: Flow) -> None:
        key = (flow.client, flow.server, flow.proto, flow.server_port)
        if key in self._judged:
            return
        if len(self._judged) >= self.thresholds.max_remembered_flows:
            self._judged.clear()
        self._judged.add(key)
        protocol = TRANSPORT_NAMES.get(flow.proto)
        if protocol is None:
            return
        client_zone, server_zone = self.zone(flow.client), self.zone(flow.server)
        if client_zone is None or server_zone is None or client_zone == server_zone:
            return
        port = flow.service_port
        if self._allowed(client_zone, server_zone, protocol, port):
            return
        client, server = ip_text(flow.client), ip_text(flow.server)
        service = f"{protocol}/{port}" if port is not None else protocol
        self.event(
            FORBIDDEN_FLOW,
            packet.ts,
            f"{client} ({client_zone}) -> {server} ({server_zone}) {service}: "
            "not allowed by the isolation matrix",
            source=Endpoint(ip=client, port=flow.client_port if port is not None else None),
            destination=Endpoint(ip=server, port=port),
            transport=protocol,
            network_type="ipv6" if flow.version == 6 else "ipv4",
            at=flow.client,
            labels={"source_zone": client_zone, "destination_zone": server_zone},
        )
