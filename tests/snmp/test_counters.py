"""Counter wrap against reset, and reboot detection from sysUpTime."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from monitors.snmp.counters import Sample, delta, rate, rebooted

GBIT = 1_000_000_000


def test_32_bit_wrap_at_line_rate_is_a_wrap() -> None:
    before = Sample(2**32 - 1_000, 32, at=0.0)
    after = Sample(4_000, 32, at=10.0)  # 5,000 octets in 10 s
    assert delta(before, after, GBIT) == 5_000
    assert rate(before, after, GBIT) == 500.0


def test_a_drop_too_big_to_be_a_wrap_is_a_reset() -> None:
    before = Sample(3_000_000_000, 32, at=0.0)
    after = Sample(10, 32, at=1.0)  # a wrap would mean ~1.3 GB in 1 s on 100 Mbit/s
    assert delta(before, after, 100_000_000) is None


def test_64_bit_counter_going_down_is_a_reset_never_a_wrap() -> None:
    assert delta(Sample(10**12, 64, 0.0), Sample(5, 64, 60.0)) is None
    assert delta(Sample(10**12, 64, 0.0), Sample(5, 64, 60.0), GBIT) is None


def test_reboot_or_counter_width_change_yields_no_rate() -> None:
    assert delta(Sample(5, 32, 0.0), Sample(9, 32, 1.0), rebooted=True) is None
    assert delta(Sample(5, 32, 0.0), Sample(9, 64, 1.0)) is None


@given(st.integers(0, 2**32 - 1), st.integers(0, 12_500_000), st.floats(1.0, 300.0))
def test_any_plausible_32_bit_increase_survives_the_wrap(
    start: int, per_s: int, seconds: float
) -> None:
    increase = int(per_s * seconds)
    before = Sample(start, 32, 0.0)
    after = Sample((start + increase) % 2**32, 32, seconds)
    if increase < 2**32:
        assert delta(before, after, 100_000_000) == increase


def test_uptime_going_back_is_a_reboot_but_its_own_wrap_is_not() -> None:
    assert rebooted(500_000, 1_000, 60.0)
    assert not rebooted(2**32 - 3_000, 3_000, 60.0)  # 497-day TimeTicks wrap
    assert not rebooted(1_000, 7_000, 60.0)
    assert not rebooted(None, 7_000, 60.0)
