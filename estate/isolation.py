"""The isolation matrix's rules and services, and parsing its service strings
(`tcp/443`, `udp/161-162`, `icmp`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

Protocol = Literal["tcp", "udp", "icmp", "icmpv6", "any"]


@dataclass(frozen=True)
class Service:
    protocol: Protocol
    port_min: int | None = None
    port_max: int | None = None

    def matches(self, protocol: str, port: int | None) -> bool:
        if self.protocol != "any" and self.protocol != protocol:
            # One rule for both families: "icmp" in the matrix also opens ICMPv6,
            # so a dual-stack migration does not silently change what is allowed.
            if not (self.protocol == "icmp" and protocol == "icmpv6"):
                return False
        if self.port_min is None:
            return True
        return port is not None and self.port_min <= port <= (self.port_max or self.port_min)

    def __str__(self) -> str:
        if self.port_min is None:
            return self.protocol
        if self.port_max is None or self.port_max == self.port_min:
            return f"{self.protocol}/{self.port_min}"
        return f"{self.protocol}/{self.port_min}-{self.port_max}"


@dataclass(frozen=True)
class IsolationRule:
    src: str
    dst: str
    services: tuple[Service, ...]
    reason: str


_SERVICE = re.compile(r"^(tcp|udp|icmp|icmpv6|any)(?:/(\d{1,5})(?:-(\d{1,5}))?)?$")


def parse_service(text: str) -> Service:
    match = _SERVICE.match(text.strip().lower())
    if not match:
        raise ValueError(
            f"expected a service like tcp/443, udp/161-162, tcp, icmp, icmpv6 or any, found {text!r}"
        )
    protocol, low, high = match.groups()
    if low is None:
        return Service(cast(Protocol, protocol))
    if protocol not in ("tcp", "udp"):
        raise ValueError(f"only tcp and udp take ports, found {text!r}")
    port_min, port_max = int(low), int(high) if high else int(low)
    if not 1 <= port_min <= port_max <= 65535:
        raise ValueError(f"expected ports within 1-65535 in ascending order, found {text!r}")
    return Service(cast(Protocol, protocol), port_min, port_max)
