"""Gateway claims: someone else answering for a segment's gateway address.

Answering ARP (IPv4) or sending a Neighbor Advertisement (IPv6) for the
gateway's address with one's own MAC is the classic man-in-the-middle on a
LAN: every host then sends its off-segment traffic to the attacker. The
estate declares each segment's gateway addresses; the policy overlay may
declare the MACs allowed to claim them (a VRRP pair has two). A MAC not
declared, or, with none declared, other than the first one seen, raises
`ywpkt-arp-gateway-claim` / `ywpkt-nd-gateway-claim`, once per (address,
MAC) per `repeat_after_s`. The neighbour advertisement's target link-layer
option names the claimed MAC; without it, the frame's source MAC does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from security.events import SEVERITY_HIGH, Endpoint

from ..decode import ArpInfo, Packet, ip_text, mac_text
from ..policy import SensorPolicy
from ..signature import Detection, Emit, Signature, override, remember

NEIGHBOR_ADVERT: Final = 136
_UNSPECIFIED4: Final = b"\x00\x00\x00\x00"
_OPT_TARGET_LLADDR: Final = 2

ARP_GATEWAY_CLAIM = Signature(
    "ywpkt-arp-gateway-claim",
    "Undeclared MAC claims a gateway address (ARP)",
    "arp-gateway-claim",
    SEVERITY_HIGH,
    type=("indicator",),
)
ND_GATEWAY_CLAIM = Signature(
    "ywpkt-nd-gateway-claim",
    "Undeclared MAC claims a gateway address (IPv6 neighbour advertisement)",
    "nd-gateway-claim",
    SEVERITY_HIGH,
    type=("indicator",),
)


@dataclass(frozen=True)
class GatewayThresholds:
    repeat_after_s: float = 300.0


def advertised_neighbor(packet: Packet) -> tuple[bytes, bytes] | None:
    """(target address, claimed MAC) of a Neighbor Advertisement, if well formed."""
    frame, l4 = packet.frame, packet.l4
    target = frame[l4 + 8 : l4 + 24]
    if len(target) != 16:
        return None
    mac = packet.eth_src
    pos = l4 + 24
    while pos + 8 <= len(frame):
        kind, units = frame[pos], frame[pos + 1]
        if units == 0:
            break
        if kind == _OPT_TARGET_LLADDR and units == 1:
            mac = frame[pos + 2 : pos + 8]
            break
        pos += units * 8
    return target, mac


class GatewayClaims(Detection):
    key = "gateway"
    signatures = (ARP_GATEWAY_CLAIM, ND_GATEWAY_CLAIM)

    def __init__(self, emit: Emit, observer: str, policy: SensorPolicy) -> None:
        super().__init__(emit, observer, policy)
        self.thresholds = override(
            GatewayThresholds(), policy.thresholds.get(self.key, {}), self.key
        )
        self._gateways = dict(policy.gateways)
        self._declared = {ip: set(macs) for ip, macs in policy.gateway_macs.items()}
        self._learned: dict[str, str] = {}
        self._learned_macs = policy.learned_gateway_macs
        self._raised: dict[tuple[str, str], float] = {}

    def on_arp(self, packet: Packet, arp: ArpInfo) -> None:
        if arp.sender_ip == _UNSPECIFIED4:
            return
        self._claim(
            ARP_GATEWAY_CLAIM,
            packet,
            arp.sender_ip,
            arp.sender_mac,
            Endpoint(ip=ip_text(arp.target_ip), mac=mac_text(arp.target_mac)),
        )

    def on_neighbor_advert(self, packet: Packet) -> None:
        claim = advertised_neighbor(packet)
        if claim is not None:
            target, mac = claim
            self._claim(
                ND_GATEWAY_CLAIM,
                packet,
                target,
                mac,
                Endpoint(ip=ip_text(packet.dst), mac=mac_text(packet.eth_dst)),
            )

    def _claim(
        self,
        signature: Signature,
        packet: Packet,
        address: bytes,
        claimed: bytes,
        destination: Endpoint,
    ) -> None:
        ip = ip_text(address)
        segment = self._gateways.get(ip)
        if segment is None:
            return
        mac = mac_text(claimed)
        declared = self._declared.get(ip)
        if declared is None:
            expected = self._learned.get(ip)
            if expected is None:
                self._learned[ip] = expected = mac
                self._learned_macs.add(mac)
            if mac == expected:
                return
            why = f"first seen as {expected}"
        elif mac in declared:
            return
        else:
            why = f"declared {', '.join(sorted(declared))}"
        last = self._raised.get((ip, mac))
        if last is not None and packet.ts - last < self.thresholds.repeat_after_s:
            return
        remember(self._raised, (ip, mac), packet.ts)
        self.event(
            signature,
            packet.ts,
            f"{mac} claims gateway {ip} of {segment} ({why})",
            source=Endpoint(ip=ip, mac=mac),
            destination=destination,
            network_type="ipv6" if len(address) == 16 else "ipv4",
            at=address,
            labels={"gateway": ip, "segment": segment},
        )
