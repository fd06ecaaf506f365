"""Scans: one source probing many ports of a host, or one port on many hosts.

Zeek's `policy/misc/scan.zeek` counts *unsuccessful* connection attempts per
source within an interval: 15 distinct ports on one host is a port scan, 25
distinct hosts on one port an address scan, both over 5 minutes. Those
defaults keep a busy client (a browser opening 30 connections to one web
server, a poller reaching 200 switches that answer) quiet, because answered
attempts do not count. Here an attempt is a TCP SYN without ACK or the first
UDP datagram of a conversation; it stops counting as soon as the server
answers (SYN-ACK, or any UDP reply). A reset is not an answer: closed ports
are exactly what a scan finds. One event per (source, host) or
(source, port) per interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from security.events import SEVERITY_MEDIUM, Endpoint

from ..decode import PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_SYN, Packet, ip_text
from ..flows import Flow
from ..policy import SensorPolicy
from ..signature import Detection, Emit, Signature, override

K = TypeVar("K")

PORT_SCAN = Signature(
    "ywpkt-scan-port",
    "Port scan: one source, many ports of one host",
    "port-scan",
    SEVERITY_MEDIUM,
    category=("network", "intrusion_detection"),
    type=("connection", "indicator"),
)
ADDRESS_SCAN = Signature(
    "ywpkt-scan-address",
    "Address scan: one source, one port on many hosts",
    "address-scan",
    SEVERITY_MEDIUM,
    category=("network", "intrusion_detection"),
    type=("connection", "indicator"),
)


@dataclass(frozen=True)
class ScanThresholds:
    port_scan_threshold: int = 15
    port_scan_interval_s: float = 300.0
    addr_scan_threshold: int = 25
    addr_scan_interval_s: float = 300.0
    max_tracked: int = 200_000


class _Window:
    __slots__ = ("members", "raised", "start")

    def __init__(self, start: float) -> None:
        self.start = start
        self.members: set[object] = set()
        self.raised = False


class Scans(Detection):
    key = "scan"
    signatures = (PORT_SCAN, ADDRESS_SCAN)

    def __init__(self, emit: Emit, observer: str, policy: SensorPolicy) -> None:
        super().__init__(emit, observer, policy)
        self.thresholds = override(
            ScanThresholds(), policy.thresholds.get(self.key, {}), f"thresholds.{self.key}"
        )
        # (client, server, proto) -> ports probed; (client, proto, port) -> hosts probed
        self._ports: dict[tuple[bytes, bytes, int], _Window] = {}
        self._hosts: dict[tuple[bytes, int, int], _Window] = {}

    def on_flow(self, packet: Packet, flow: Flow) -> None:
        proto = flow.proto
        if packet.src != flow.client:
            return
        if proto == PROTO_TCP:
            if packet.tcp_flags & (TCP_SYN | TCP_ACK) != TCP_SYN:
                return
        elif proto != PROTO_UDP:
            return
        t = self.thresholds
        ts = packet.ts
        client, server, port = flow.client, flow.server, flow.server_port
        # Every attempt opens a flow: the two window lookups are inline.
        key = (client, server, proto)
        ports = self._ports.get(key)
        if ports is None or ts - ports.start > t.port_scan_interval_s:
            ports = self._new_window(self._ports, key, ts)
        ports.members.add(port)
        if not ports.raised and len(ports.members) >= t.port_scan_threshold:
            ports.raised = True
            self._raise(PORT_SCAN, packet, flow, len(ports.members), ports.start)
        service = (client, proto, port)
        hosts = self._hosts.get(service)
        if hosts is None or ts - hosts.start > t.addr_scan_interval_s:
            hosts = self._new_window(self._hosts, service, ts)
        hosts.members.add(server)
        if not hosts.raised and len(hosts.members) >= t.addr_scan_threshold:
            hosts.raised = True
            self._raise(ADDRESS_SCAN, packet, flow, len(hosts.members), hosts.start)

    def on_answer(self, packet: Packet, flow: Flow) -> None:
        ports = self._ports.get((flow.client, flow.server, flow.proto))
        if ports is not None:
            ports.members.discard(flow.server_port)
        hosts = self._hosts.get((flow.client, flow.proto, flow.server_port))
        if hosts is not None:
            hosts.members.discard(flow.server)

    def _new_window(self, table: dict[K, _Window], key: K, ts: float) -> _Window:
        if len(table) >= self.thresholds.max_tracked:
            table.clear()
        window = table[key] = _Window(ts)
        return window

    def _raise(
        self, signature: Signature, packet: Packet, flow: Flow, count: int, since: float
    ) -> None:
        client, transport = ip_text(flow.client), flow.transport
        if signature is PORT_SCAN:
            message = f"{client} probed {count} {transport} ports on {ip_text(flow.server)}"
            destination = Endpoint(ip=ip_text(flow.server))
        else:
            message = f"{client} probed {transport} port {flow.server_port} on {count} hosts"
            destination = Endpoint(port=flow.server_port)
        self.event(
            signature,
            packet.ts,
            message + f" within {packet.ts - since:.1f} s without answers",
            source=Endpoint(ip=client),
            destination=destination,
            transport=transport,
            network_type="ipv6" if flow.version == 6 else "ipv4",
            at=flow.client,
            labels={"probes": str(count)},
        )
