"""Measuring outages the way TESTBED.md found reliable on these machines.

`ping -i 0.01` really sends about every 16 ms here; `-D` stamps each reply,
and the largest gap between consecutive replies is the outage. ping stops
on SIGINT and then prints its summary. On a loaded machine ping itself can
wait seconds for a CPU with nothing lost, which that gap counts as outage;
`lost_run_s` counts only requests that went unanswered. `tcp_throughput` measures what a
(throttled) path carries.
"""

from __future__ import annotations

import itertools
import re
import signal
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from lab import netns
from lab.errors import LabError

_REPLY = re.compile(r"^\[(\d+\.\d+)\].*icmp_seq=(\d+)")
_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received")


@dataclass(frozen=True)
class Outage:
    largest_gap_s: float  # longest time without a reply
    sent: int
    received: int
    replies: tuple[float, ...]  # reply timestamps (for "which path after?")
    sequence: tuple[int, ...] = ()  # icmp_seq of each reply

    @property
    def lost(self) -> int:
        return self.sent - self.received

    @property
    def lost_run_s(self) -> float:
        """The longest run of unanswered requests, as time: (run + 1) x the
        usual spacing of consecutive requests. Equal to `largest_gap_s` when
        ping gets its CPU; unlike it, a ping starved of CPU sends late rather
        than losing, so the starvation is not counted as outage."""
        pairs = list(itertools.pairwise(zip(self.sequence, self.replies, strict=True)))
        steps = [(tb - ta) / (sb - sa) for (sa, ta), (sb, tb) in pairs if sb > sa]
        if not steps:
            return 0.0
        runs = [sb - sa - 1 for (sa, _), (sb, _) in pairs]
        runs.append(self.sent - self.sequence[-1])  # sent after the last reply, unanswered
        return (max(runs) + 1) * statistics.median(steps)

    def summary(self) -> str:
        return (
            f"unanswered {self.lost_run_s * 1000:.0f} ms "
            f"(largest gap {self.largest_gap_s * 1000:.0f} ms), lost {self.lost} of {self.sent}"
        )


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
    matched = [m for line in out.splitlines() if (m := _REPLY.match(line))]
    replies = [float(m.group(1)) for m in matched]
    summary = _SUMMARY.search(out)
    if summary is None or len(replies) < 2:
        raise LabError(f"ping gave no usable output: {(err or out).strip()[-200:]}")
    gaps = [b - a for a, b in itertools.pairwise(replies)]
    if stopped_at is not None:
        gaps.append(stopped_at - replies[-1])
    sequence = tuple(int(m.group(2)) for m in matched)
    return Outage(max(gaps), int(summary.group(1)), int(summary.group(2)), tuple(replies), sequence)


def tcp_throughput(
    src_ns: str, dst_ns: str, dst_address: str, *, nbytes: int = 3_000_000, port: int = 5001
) -> float:
    """Bits per second of one TCP transfer of `nbytes` between two namespaces.

    Both ends are threads of this process that entered their namespace, so
    nothing but the lab's own links carries the traffic.
    """
    ready = threading.Event()
    received: list[int] = []
    errors: list[BaseException] = []

    def sink() -> None:
        try:
            with (
                netns.entered(dst_ns),
                socket.socket(socket.AF_INET6 if ":" in dst_address else socket.AF_INET) as server,
            ):
                server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                server.bind((dst_address, port))
                server.listen(1)
                server.settimeout(30)
                ready.set()
                conn, _ = server.accept()
                with conn:
                    total = 0
                    while chunk := conn.recv(65536):
                        total += len(chunk)
                    received.append(total)
        except BaseException as exc:  # reported to the caller below
            errors.append(exc)
            ready.set()

    worker = threading.Thread(target=sink, daemon=True)
    worker.start()
    ready.wait(10)
    started = time.monotonic()
    with netns.entered(src_ns), socket.create_connection((dst_address, port), timeout=30) as conn:
        conn.sendall(b"\0" * nbytes)
        conn.shutdown(socket.SHUT_WR)
        conn.recv(1)  # the sink closes once it has read everything
    worker.join(30)
    elapsed = time.monotonic() - started
    if errors or not received:
        raise LabError(f"throughput transfer to {dst_address} failed: {errors[:1]}")
    return received[0] * 8 / elapsed
