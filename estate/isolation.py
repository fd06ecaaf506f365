"""Parsing the isolation matrix's service strings (`tcp/443`, `udp/161-162`, `icmp`)."""

from __future__ import annotations

import re
from typing import cast

from estate.model import Protocol, Service

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
