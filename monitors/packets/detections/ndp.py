"""Rogue IPv6 routers: Router Advertisements the estate did not plan.

During an IPv6 migration every host with `accept_ra=1` will take a default
route and an address from *any* RA on its link (NDPMon's reason to exist):
a laptop with connection sharing or an attacker's `fake_router6` captures a
segment's traffic. Two facts are checked, each its own signature:

- `ywpkt-ra-undeclared-router`: neither the RA's source address nor its
  source MAC is a declared router, and the MAC is not one that answers for
  a gateway address (declared, or first seen: the box owning the gateway
  address is the segment's router, and RAs come from link-local addresses
  the estate does not list);
- `ywpkt-ra-foreign-prefix`: a Prefix Information option announces a prefix
  that is not inside the address plan (or is wider than the planned prefix
  holding it).

Each is raised once per (router, prefix) per `repeat_after_s`: RAs repeat
every few minutes and one alert per episode is what a team can act on. RA
options are a simple TLV list, read here without scapy so an RA flood costs
no more than any other packet.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

from security.events import SEVERITY_HIGH, Endpoint

from ..decode import Packet, ip_text, mac_text
from ..policy import SensorPolicy
from ..signature import Detection, Emit, Signature, override, remember

ROUTER_ADVERT: Final = 134
_OPT_PREFIX_INFO: Final = 3
_RA_HEADER: Final = 16

UNDECLARED_ROUTER = Signature(
    "ywpkt-ra-undeclared-router",
    "Router Advertisement from an undeclared router",
    "rogue-router-advertisement",
    SEVERITY_HIGH,
    type=("indicator",),
)
FOREIGN_PREFIX = Signature(
    "ywpkt-ra-foreign-prefix",
    "Router Advertisement announces a prefix outside the address plan",
    "foreign-prefix-advertised",
    SEVERITY_HIGH,
    type=("indicator",),
)


@dataclass(frozen=True)
class RouterThresholds:
    repeat_after_s: float = 300.0


def advertised_prefixes(packet: Packet) -> list[ipaddress.IPv6Network]:
    """Prefix Information options of a Router Advertisement (malformed ones skipped)."""
    return [prefix for prefix, _flags in prefix_information(packet)]


def prefix_information(packet: Packet) -> list[tuple[ipaddress.IPv6Network, int]]:
    """(prefix, its L/A flags octet) of each Prefix Information option of a
    Router Advertisement (RFC 4861 4.6.2; malformed ones skipped)."""
    frame = packet.frame
    pos = packet.l4 + _RA_HEADER
    prefixes: list[tuple[ipaddress.IPv6Network, int]] = []
    while pos + 2 <= len(frame):
        kind, units = frame[pos], frame[pos + 1]
        if units == 0:
            break  # RFC 4861: a zero-length option is invalid, stop reading
        if kind == _OPT_PREFIX_INFO and units == 4 and pos + 32 <= len(frame):
            length = frame[pos + 2]
            raw = frame[pos + 16 : pos + 32]
            if length <= 128:
                network = ipaddress.IPv6Network((raw, length), strict=False)
                prefixes.append((network, frame[pos + 3]))
        pos += units * 8
    return prefixes


class RogueRouters(Detection):
    key = "ra"
    signatures = (UNDECLARED_ROUTER, FOREIGN_PREFIX)

    def __init__(self, emit: Emit, observer: str, policy: SensorPolicy) -> None:
        super().__init__(emit, observer, policy)
        self.thresholds = override(
            RouterThresholds(), policy.thresholds.get(self.key, {}), self.key
        )
        self._routers = policy.routers
        self._gateway_macs = {mac for macs in policy.gateway_macs.values() for mac in macs}
        self._learned_gateway_macs = policy.learned_gateway_macs
        self._planned = policy.planned
        self._raised: dict[tuple[str, str, str], float] = {}

    def on_router_advert(self, packet: Packet) -> None:
        router, mac = ip_text(packet.src), mac_text(packet.eth_src)
        source = Endpoint(ip=router, mac=mac)
        declared = (
            router in self._routers
            or mac in self._routers
            or mac in self._gateway_macs
            or mac in self._learned_gateway_macs
        )
        if not declared and self._due(UNDECLARED_ROUTER, router, "", packet.ts):
            self.event(
                UNDECLARED_ROUTER,
                packet.ts,
                f"{router} ({mac}) advertises itself as a router but is not declared",
                source=source,
                network_type="ipv6",
                transport="ipv6-icmp",
            )
        for prefix in advertised_prefixes(packet):
            planned = self._planned.lookup(prefix.network_address.packed)
            if planned is not None and planned.prefixlen <= prefix.prefixlen:
                continue
            if self._due(FOREIGN_PREFIX, router, str(prefix), packet.ts):
                self.event(
                    FOREIGN_PREFIX,
                    packet.ts,
                    f"{router} ({mac}) advertises {prefix}, outside the address plan",
                    source=source,
                    network_type="ipv6",
                    transport="ipv6-icmp",
                    labels={"prefix": str(prefix)},
                )

    def _due(self, signature: Signature, router: str, prefix: str, ts: float) -> bool:
        key = (signature.id, router, prefix)
        last = self._raised.get(key)
        if last is not None and ts - last < self.thresholds.repeat_after_s:
            return False
        remember(self._raised, key, ts)
        return True
