"""Rogue DHCP servers, IPv4 and IPv6.

A DHCP server nobody declared hands out gateways and DNS servers of its
choosing: a misplugged home router does it by accident, an attacker on
purpose. Every server message (DHCPv4 OFFER/ACK/NAK from port 67, DHCPv6
ADVERTISE/REPLY from port 547) names its server (DHCPv4 option 54, else the
IP source; the IPv6 source for DHCPv6, which is the server or the relay on
the link); if that address is not among the declared DHCP servers (by
default the segments' gateways, which relay DHCP), it is
`ywpkt-dhcp4-rogue-server` / `ywpkt-dhcp6-rogue-server`, once per server per
`repeat_after_s`. These packets are rare, so scapy decodes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from security.events import SEVERITY_HIGH, Endpoint

from ..decode import PROTO_UDP, Packet, ip_text, mac_text
from ..policy import SensorPolicy
from ..signature import Detection, Emit, Signature, override, remember

if TYPE_CHECKING:
    from scapy.layers.l2 import Ether

DHCP4_SERVER_PORT: Final = 67
DHCP4_CLIENT_PORT: Final = 68
DHCP6_SERVER_PORT: Final = 547
DHCP6_CLIENT_PORT: Final = 546
_DHCP4_SERVER_MESSAGES: Final = {2: "offer", 5: "ack", 6: "nak"}

ROGUE_DHCP4 = Signature(
    "ywpkt-dhcp4-rogue-server",
    "DHCPv4 answer from an undeclared server",
    "rogue-dhcp-server",
    SEVERITY_HIGH,
    type=("indicator",),
)
ROGUE_DHCP6 = Signature(
    "ywpkt-dhcp6-rogue-server",
    "DHCPv6 answer from an undeclared server",
    "rogue-dhcpv6-server",
    SEVERITY_HIGH,
    type=("indicator",),
)


@dataclass(frozen=True)
class DhcpThresholds:
    repeat_after_s: float = 300.0


def is_dhcp_server_message(packet: Packet) -> bool:
    return packet.proto == PROTO_UDP and (
        (packet.sport == DHCP4_SERVER_PORT and packet.dport == DHCP4_CLIENT_PORT)
        or (packet.sport == DHCP6_SERVER_PORT and packet.dport == DHCP6_CLIENT_PORT)
    )


class RogueDhcp(Detection):
    key = "dhcp"
    signatures = (ROGUE_DHCP4, ROGUE_DHCP6)

    def __init__(self, emit: Emit, observer: str, policy: SensorPolicy) -> None:
        super().__init__(emit, observer, policy)
        self.thresholds = override(
            DhcpThresholds(), policy.thresholds.get(self.key, {}), f"thresholds.{self.key}"
        )
        self._servers = policy.dhcp_servers
        self._raised: dict[str, float] = {}

    def on_dhcp(self, packet: Packet) -> None:
        # scapy (~0.7 CPU-s to import) only when a server message shows up:
        # most captures have none, and the sensor's start-up must stay short.
        # The DHCP layers are imported before dissecting: importing them binds
        # UDP 67/68 and 546/547 to BOOTP and DHCPv6 in scapy's dissector.
        from scapy.layers import dhcp, dhcp6  # noqa: F401
        from scapy.layers.l2 import Ether

        frame = Ether(packet.frame)
        try:
            if packet.version == 4:
                self._dhcp4(packet, frame)
            else:
                self._dhcp6(packet, frame)
        finally:
            _unlink(frame)

    def _dhcp4(self, packet: Packet, frame: Ether) -> None:
        from scapy.layers.dhcp import BOOTP, DHCP

        if BOOTP not in frame or DHCP not in frame or frame[BOOTP].op != 2:
            return
        options = {o[0]: o[1] for o in frame[DHCP].options if isinstance(o, tuple) and len(o) >= 2}
        message = _DHCP4_SERVER_MESSAGES.get(int(options.get("message-type", 0)))
        if message is None:
            return
        server = str(options.get("server_id") or ip_text(packet.src))
        if server in self._servers or ip_text(packet.src) in self._servers:
            return
        offered = str(frame[BOOTP].yiaddr)
        self._raise(ROGUE_DHCP4, packet, server, f"DHCP {message} of {offered}", "ipv4")

    def _dhcp6(self, packet: Packet, frame: Ether) -> None:
        from scapy.layers.dhcp6 import DHCP6_Advertise, DHCP6_Reply, DHCP6OptServerId

        answer = frame.getlayer(DHCP6_Advertise) or frame.getlayer(DHCP6_Reply)
        if answer is None:
            return
        server = ip_text(packet.src)
        if server in self._servers:
            return
        duid = answer.getlayer(DHCP6OptServerId)
        kind = "advertise" if isinstance(answer, DHCP6_Advertise) else "reply"
        detail = f"DHCPv6 {kind}"
        if duid is not None:
            detail += f" (server DUID {bytes(duid)[4:].hex()})"
        self._raise(ROGUE_DHCP6, packet, server, detail, "ipv6")

    def _raise(
        self, signature: Signature, packet: Packet, server: str, detail: str, family: str
    ) -> None:
        last = self._raised.get(server)
        if last is not None and packet.ts - last < self.thresholds.repeat_after_s:
            return
        remember(self._raised, server, packet.ts)
        self.event(
            signature,
            packet.ts,
            f"{detail} from undeclared server {server} ({mac_text(packet.eth_src)})",
            source=Endpoint(ip=server, port=packet.sport, mac=mac_text(packet.eth_src)),
            destination=Endpoint(ip=ip_text(packet.dst), port=packet.dport),
            transport="udp",
            network_type=family,
            at=packet.src,
        )


def _unlink(frame: Ether) -> None:
    """Cut each scapy layer's link back to the layer below it (`underlayer`).

    With the link, every layer and the one below it form a cycle that
    reference counting cannot free: a capture full of server messages would
    leave its dissections to the cyclic collector, which a sensor reading a
    file runs only every million objects (`sensor.settle_memory`).
    """
    layer = frame.payload
    while layer:
        layer.underlayer = None
        layer = layer.payload
