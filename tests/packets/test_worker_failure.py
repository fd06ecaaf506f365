"""A worker that fails stops the run at once, in one line.

The parent used to wait for its workers in order: a worker that died while
worker 0 still ran (a live capture runs until stopped) left the command
sensing on with that worker's share of the wire unwatched, and reported
nothing until worker 0 ended. Now the first worker to end badly, dead or
with an error, is reported as soon as it ends, and the others are stopped.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from monitors.packets import Sensor, SensorPolicy
from monitors.packets.parallel import Outcome, WorkerError, _run


@contextmanager
def _no_hang(seconds: int) -> Iterator[None]:
    """Fails the test instead of letting a run that waits forever hang the suite."""

    def hung(signum: int, frame: object) -> None:
        raise AssertionError("the run waited on a worker that had failed")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(
    ("failing", "fail", "line"),
    [
        (1, "dies", r"^worker 1 ended without a result \(exit -9\)$"),
        (1, "raises", r"^worker 1: ValueError: a detection bug$"),
        (0, "raises", r"^ValueError: a detection bug$"),
    ],
)
def test_the_first_worker_to_fail_ends_the_run_and_the_others_are_stopped(
    policy: SensorPolicy, tmp_path: Path, failing: int, fail: str, line: str
) -> None:
    running = tmp_path / "running"  # the other worker's pid, once it runs

    def work(index: int, sensor: Sensor) -> Outcome:
        if index != failing:
            running.write_text(str(os.getpid()))
            time.sleep(120)  # a live worker: senses until stopped
        while not running.exists():
            time.sleep(0.01)
        if fail == "dies":
            os.kill(os.getpid(), signal.SIGKILL)
        raise ValueError("a detection bug")

    with _no_hang(60), pytest.raises(WorkerError, match=line):
        _run(lambda: Sensor(policy, observer="test"), 2, work)
    with pytest.raises(ProcessLookupError):  # stopped, and reaped
        os.kill(int(running.read_text()), 0)
