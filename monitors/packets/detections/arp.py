"""ARP watch: who claims which IPv4 address, and how loudly.

Two units, in the spirit of arpwatch:

- `ArpBindings` remembers IP -> MAC from every ARP sender. A change is
  `ywpkt-arp-mac-changed`; a change *back* to the MAC before within
  `flip_flop_window_s` is `ywpkt-arp-flip-flop`, arpwatch's name for two
  hosts fighting over one address (a spoofer and its victim, or a
  misconfigured duplicate). Gateway addresses are left to the stricter
  gateway unit so one forged reply gives one event.
- gateway addresses are watched by `gateway.GatewayClaims`, for ARP and
  IPv6 neighbour advertisements alike;
- `GratuitousStorm`: a host announcing its own address (sender = target)
  more than `threshold` times in `window_s` is either flapping or poisoning
  caches at scale; one `ywpkt-arp-gratuitous-storm` per window and MAC.
"""

from __future__ import annotations

from dataclasses import dataclass

from security.events import SEVERITY_HIGH, SEVERITY_MEDIUM, Endpoint

from ..decode import ArpInfo, Packet, ip_text, mac_text
from ..policy import SensorPolicy
from ..signature import Detection, Emit, Signature, override

_UNSPECIFIED = b"\x00\x00\x00\x00"

MAC_CHANGED = Signature(
    "ywpkt-arp-mac-changed", "IPv4 address moved to another MAC", "arp-mac-changed", SEVERITY_MEDIUM
)
FLIP_FLOP = Signature(
    "ywpkt-arp-flip-flop",
    "IPv4 address flip-flops between two MACs",
    "arp-flip-flop",
    SEVERITY_HIGH,
)
GRATUITOUS_STORM = Signature(
    "ywpkt-arp-gratuitous-storm", "Gratuitous ARP storm", "arp-gratuitous-storm", SEVERITY_MEDIUM
)


def _arp_endpoint(ip: bytes, mac: bytes) -> Endpoint:
    return Endpoint(ip=ip_text(ip), mac=mac_text(mac))


@dataclass(frozen=True)
class BindingThresholds:
    flip_flop_window_s: float = 3600.0
    max_bindings: int = 1_000_000


class ArpBindings(Detection):
    key = "arp"
    signatures = (MAC_CHANGED, FLIP_FLOP)

    def __init__(self, emit: Emit, observer: str, policy: SensorPolicy) -> None:
        super().__init__(emit, observer, policy)
        self.thresholds = override(
            BindingThresholds(), policy.thresholds.get(self.key, {}), self.key
        )
        self._gateways = frozenset(policy.gateways)
        # ip -> (mac, previous mac, when the binding last changed)
        self._bindings: dict[bytes, tuple[bytes, bytes | None, float]] = {}

    def on_arp(self, packet: Packet, arp: ArpInfo) -> None:
        ip, mac = arp.sender_ip, arp.sender_mac
        if ip == _UNSPECIFIED:
            return
        known = self._bindings.get(ip)
        if known is None:
            if len(self._bindings) >= self.thresholds.max_bindings:
                self._bindings.clear()
            self._bindings[ip] = (mac, None, packet.ts)
            return
        current, previous, changed_at = known
        if mac == current:
            return
        self._bindings[ip] = (mac, current, packet.ts)
        text = ip_text(ip)
        if text in self._gateways:
            return
        window = self.thresholds.flip_flop_window_s
        flip_flop = mac == previous and packet.ts - changed_at <= window
        signature = FLIP_FLOP if flip_flop else MAC_CHANGED
        self.event(
            signature,
            packet.ts,
            f"{text} moved from {mac_text(current)} to {mac_text(mac)}"
            + (" and back again" if flip_flop else ""),
            source=_arp_endpoint(ip, mac),
            at=ip,
            labels={"previous_mac": mac_text(current)},
        )


@dataclass(frozen=True)
class StormThresholds:
    threshold: int = 20
    window_s: float = 10.0


class GratuitousStorm(Detection):
    key = "arp_storm"
    signatures = (GRATUITOUS_STORM,)

    def __init__(self, emit: Emit, observer: str, policy: SensorPolicy) -> None:
        super().__init__(emit, observer, policy)
        self.thresholds = override(
            StormThresholds(), policy.thresholds.get(self.key, {}), f"thresholds.{self.key}"
        )
        # mac -> [window start, count, already raised in this window]
        self._windows: dict[bytes, list[float]] = {}

    def on_arp(self, packet: Packet, arp: ArpInfo) -> None:
        if arp.sender_ip != arp.target_ip or arp.sender_ip == _UNSPECIFIED:
            return
        window = self._windows.get(arp.sender_mac)
        if window is None or packet.ts - window[0] > self.thresholds.window_s:
            if len(self._windows) > 100_000:
                self._windows.clear()
            window = self._windows[arp.sender_mac] = [packet.ts, 0.0, 0.0]
        window[1] += 1
        if window[1] > self.thresholds.threshold and not window[2]:
            window[2] = 1.0
            self.event(
                GRATUITOUS_STORM,
                packet.ts,
                f"{mac_text(arp.sender_mac)} sent more than {self.thresholds.threshold} "
                f"gratuitous ARPs in {self.thresholds.window_s:g} s",
                source=_arp_endpoint(arp.sender_ip, arp.sender_mac),
                at=arp.sender_ip,
            )
