"""Bandwidths and durations the way people write them in the estate."""

from __future__ import annotations

import re

_BANDWIDTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:bit/s|bps|b/s)\s*$", re.IGNORECASE)
_BANDWIDTH_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
# Bounds past any real link or schedule: a value beyond them is a typo or an
# attack, and would overflow what is computed from it (`int(interval * 3)`).
_MAX_DURATION_S = 10 * 365 * 86400.0  # ten years
_MAX_BANDWIDTH = 10**15  # a petabit per second


def parse_bandwidth(value: object) -> int:
    """Bits per second from `1Gbit/s`, `100Mbit/s`, `20 Mbps` or a bare integer."""
    if isinstance(value, bool):
        raise ValueError(f"expected a bandwidth like 100Mbit/s, found {value!r}")
    bps: float = 0
    if isinstance(value, int):
        bps = value
    elif isinstance(value, str) and (match := _BANDWIDTH.match(value)):
        bps = float(match.group(1)) * _BANDWIDTH_UNITS[match.group(2).lower()]
    if 0 < bps <= _MAX_BANDWIDTH:
        return int(bps)
    raise ValueError(
        f"expected a bandwidth like 100Mbit/s or 1Gbit/s, at most 1000Tbit/s, found {value!r}"
    )


def parse_duration(value: object) -> float:
    """Seconds from `500ms`, `30s`, `5m`, `4h`, `180d` or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s or 5m, found {value!r}")
    seconds = -1.0
    if isinstance(value, int | float):
        seconds = float(value)  # NaN and infinities fail the bound below
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if 0 <= seconds <= _MAX_DURATION_S:
        return seconds
    raise ValueError(
        f"expected a duration like 30s, 5m, 4h or 180d, at most ten years, found {value!r}"
    )


def format_bandwidth(bps: int) -> str:
    for unit, factor in (
        ("Tbit/s", 10**12),
        ("Gbit/s", 10**9),
        ("Mbit/s", 10**6),
        ("kbit/s", 10**3),
    ):
        if bps >= factor and bps % factor == 0:
            return f"{bps // factor}{unit}"
    return f"{bps}bit/s"


def format_duration(seconds: float) -> str:
    for unit, factor in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= factor and seconds % factor == 0:
            return f"{int(seconds // factor)}{unit}"
    return f"{seconds:g}s"


_MAC_HEX = re.compile(r"^[0-9a-f]{12}$")
_MAC_EXAMPLE = "expected a MAC address like 70:7b:e8:00:10:01"
VRRP_MAC_PREFIXES = ("00:00:5e:00:01:", "00:00:5e:00:02:")  # RFC 5798, IPv4 and IPv6


def parse_mac(value: object) -> str:
    """`aa:bb:cc:dd:ee:ff` from the colon, dash (Huawei/H3C `aabb-ccdd-eeff`) or
    dotted (Cisco `aabb.ccdd.eeff`) forms a network engineer copies from a CLI."""
    if not isinstance(value, str):
        raise ValueError(f"{_MAC_EXAMPLE}, found {value!r}")
    text = value.strip().lower()
    digits = "".join(c for c in text if c not in ":-.")
    groups = re.split(r"[:.-]", text)
    if not _MAC_HEX.match(digits) or {len(g) for g in groups} not in ({2}, {4}, {12}):
        raise ValueError(f"{_MAC_EXAMPLE}, found {value!r}")
    mac = ":".join(digits[i : i + 2] for i in range(0, 12, 2))
    if int(digits[:2], 16) & 1:
        raise ValueError(f"{mac} is a multicast/broadcast MAC, not a device's address")
    if digits == "0" * 12:
        raise ValueError("00:00:00:00:00:00 is not a device's address")
    return mac


def is_vrrp_mac(mac: str) -> bool:
    """A VRRP virtual router MAC: shared by the routers of one LAN by design."""
    return mac.startswith(VRRP_MAC_PREFIXES)
