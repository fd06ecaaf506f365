"""Rates from SNMP counters, with wrap and reset told apart.

A counter that goes down either wrapped (32-bit octet counters wrap every
34 s at 1 Gbit/s) or was reset (reboot, line card swap, counter clear). We
call it a wrap only when the wrapped delta is plausible for the interface
speed over the interval and the device did not reboot (sysUpTime went
forward); otherwise it's a reset and that interval yields no rate rather
than a huge bogus one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sample:
    value: int
    bits: int  # 32 or 64
    at: float  # monotonic seconds when read


def delta(
    previous: Sample,
    current: Sample,
    speed_bps: int | None = None,
    rebooted: bool = False,
    octets: bool = True,
) -> int | None:
    """Counter increase between two samples, or None when it can't be known."""
    if rebooted or previous.bits != current.bits:
        return None
    if current.value >= previous.value:
        return current.value - previous.value
    wrapped = current.value + (1 << current.bits) - previous.value
    elapsed = current.at - previous.at
    if speed_bps and elapsed > 0:
        ceiling = speed_bps / 8 * elapsed * 1.1 if octets else speed_bps * elapsed
        if wrapped > ceiling:
            return None  # impossible at line rate: a reset, not a wrap
    elif current.bits == 64:
        return None  # a 64-bit counter does not wrap in any realistic interval
    return wrapped


def rate(
    previous: Sample,
    current: Sample,
    speed_bps: int | None = None,
    rebooted: bool = False,
    octets: bool = True,
) -> float | None:
    elapsed = current.at - previous.at
    if elapsed <= 0:
        return None
    increase = delta(previous, current, speed_bps, rebooted, octets)
    return None if increase is None else increase / elapsed


def rebooted(previous_uptime: int | None, uptime: int | None, elapsed_s: float) -> bool:
    """sysUpTime (centiseconds) went backwards beyond its own 497-day wrap."""
    if previous_uptime is None or uptime is None:
        return False
    if uptime >= previous_uptime:
        return False
    # A genuine TimeTicks wrap lands near the elapsed time after 2**32.
    wrapped = uptime + (1 << 32) - previous_uptime
    return abs(wrapped / 100 - elapsed_s) > max(5.0, elapsed_s * 0.5)
