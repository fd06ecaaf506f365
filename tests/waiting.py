"""Waiting on a condition, not on the clock.

A test that sleeps "long enough" for a thread, a daemon or a flush is slow
when the machine is idle and flaky when it is busy. Wait for what the test
needs instead, with a deadline that only a real failure reaches:

    wait_until(lambda: store.count_events() == 1, timeout=10, what="the event stored")
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float, what: str = "the condition", every: float = 0.05
) -> T:
    """The first truthy value of `predicate()`; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(every)
