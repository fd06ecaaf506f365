"""Measuring outages the way TESTBED.md found reliable on these machines.

`ping -i 0.01` really sends about every 16 ms here; `-D` stamps each reply,
and the largest gap between consecutive replies is the outage. ping stops
on SIGINT and then prints its summary.
"""

from __future__ import annotations

import itertools
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from lab.errors import LabError

_REPLY = re.compile(r"^\[(\d+\.\d+)\].*icmp_seq=(\d+)")
_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received")


@dataclass(frozen=True)
class Outage:
    largest_gap_s: float  # longest time without a reply
    sent: int
    received: int
    replies: tuple[float, ...]  # reply timestamps (for "which path after?")

    @property
    def lost(self) -> int:
        return self.sent - self.received


def ping_through(
    namespace: str,
    destination: str,
    action: Callable[[], object],
    *,
    settle_s: float = 0.5,
    after_s: float = 2.0,
    interval_s: float = 0.01,
) -> Outage:
    """Ping `destination` from `namespace`, run `action` mid-stream, report the gap."""
    argv = [
        "ip",
        "netns",
        "exec",
        namespace,
        "ping",
        "-D",
        "-n",
        "-i",
        str(interval_s),
        "-W",
        "1",
        destination,
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(settle_s)
        action()
        time.sleep(after_s)
    finally:
        stopped = time.time()
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    return parse(out, err, stopped_at=stopped)


def parse(out: str, err: str = "", *, stopped_at: float | None = None) -> Outage:
    """Replies from `ping -D` output; a stream that never came back counts up
    to `stopped_at` (wall clock, like ping's stamps)."""
    replies = [float(m.group(1)) for line in out.splitlines() if (m := _REPLY.match(line))]
    summary = _SUMMARY.search(out)
    if summary is None or len(replies) < 2:
        raise LabError(f"ping gave no usable output: {(err or out).strip()[-200:]}")
    gaps = [b - a for a, b in itertools.pairwise(replies)]
    if stopped_at is not None:
        gaps.append(stopped_at - replies[-1])
    return Outage(max(gaps), int(summary.group(1)), int(summary.group(2)), tuple(replies))
