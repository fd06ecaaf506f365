"""Bandwidths and durations the way people write them in the estate."""

from __future__ import annotations

import re

_BANDWIDTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:bit/s|bps|b/s)\s*$", re.IGNORECASE)
_BANDWIDTH_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_bandwidth(value: object) -> int:
    """Bits per second from `1Gbit/s`, `100Mbit/s`, `20 Mbps` or a bare integer."""
    if isinstance(value, bool):
        raise ValueError(f"expected a bandwidth like 100Mbit/s, found {value!r}")
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and (match := _BANDWIDTH.match(value)):
        bps = float(match.group(1)) * _BANDWIDTH_UNITS[match.group(2).lower()]
        if bps > 0:
            return int(bps)
    raise ValueError(f"expected a bandwidth like 100Mbit/s or 1Gbit/s, found {value!r}")


def parse_duration(value: object) -> float:
    """Seconds from `500ms`, `30s`, `5m`, `4h`, `180d` or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s or 5m, found {value!r}")
    if isinstance(value, int | float) and value >= 0:
        return float(value)
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    raise ValueError(f"expected a duration like 30s, 5m, 4h or 180d, found {value!r}")


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
