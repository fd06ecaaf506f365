"""One sensor process per core: a capture file sharded, a live interface fanned out.

Each worker is a forked copy of the loaded sensor (the policy is built
once, before the fork) with its share of the traffic (`shards`): for a
file, every worker reads the file and keeps its own packets (`FileShare`); live, the
kernel's AF_PACKET fanout hands each packet to one worker's socket.

What needs merging, and how (everything else is whole in one worker):
- the counters (`SensorStats`): summed; malformed frames are counted by
  worker 0 alone, since every worker reads them;
- IPv6 adoption (flows and bytes per segment and family): each flow lives
  in one worker, so the totals are summed;
- the event stream: from a file, the workers' events are merged in
  timestamp order and printed by the parent: the same lines one process
  prints, sorted by time. One process prints in the order it raises, and a
  forbidden-flow window's summary is raised when the window closes but
  stamped with its first flow, so there the order can differ; live, each
  worker prints its events as it raises them, one `write` per line so lines
  never interleave.

What still depends on how the traffic is split: a window of a flow's client
closed early by a sweep at a timestamp far ahead of its neighbours (a
capture whose clock steps backwards) closes only in the process that saw
that timestamp; and the flow tables' bounds (the sensor's 500,000 flows,
the assigner's million), which each process reaches at its own packet.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import resource
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from security.events import Event

from .capture import PcapError, check_capture, read_capture
from .detections.adoption import FamilyCounts
from .sensor import Sensor, SensorStats
from .shards import FileShare

if TYPE_CHECKING:
    from .live import LiveCapture

MakeSensor = Callable[[], Sensor]
_FORK = multiprocessing.get_context("fork")


class WorkerError(RuntimeError):
    """A worker failed (one line: which worker and why)."""


@dataclass
class Outcome:
    """What one worker hands back: its counters, adoption totals and events."""

    stats: SensorStats
    adoption: dict[tuple[str, int], FamilyCounts]
    events: list[Event] = field(default_factory=list)
    # Or, when the caller renders them (`sense_file(render=...)`), each
    # event's time and line: merged in the same order as the events.
    lines: list[tuple[datetime, str]] = field(default_factory=list)
    error: str | None = None
    # A capture corrupt partway: every worker stops at the same record, with
    # the events of the frames before it, as one process does.
    capture_error: str | None = None
    shares: list[int] = field(default_factory=list)  # merged: frames each worker sensed
    cpu_s: list[float] = field(default_factory=list)  # CPU seconds of each worker (one, unmerged)


def merge_stats(parts: Iterable[SensorStats]) -> SensorStats:
    total = SensorStats()
    for part in parts:
        total.seen += part.seen
        total.parsed += part.parsed
        total.malformed += part.malformed
        total.dropped += part.dropped
        total.unsupported += part.unsupported
        total.detection_errors += part.detection_errors
        total.events.update(part.events)
        if total.first_error is None:
            total.first_error = part.first_error
    return total


def merge_adoption(
    parts: Iterable[dict[tuple[str, int], FamilyCounts]],
) -> dict[tuple[str, int], FamilyCounts]:
    total: dict[tuple[str, int], FamilyCounts] = {}
    for part in parts:
        for key, counts in part.items():
            entry = total.setdefault(key, FamilyCounts())
            entry.flows += counts.flows
            entry.bytes += counts.bytes
    return total


def sense_file(
    make_sensor: MakeSensor,
    pcap: Path,
    workers: int,
    render: Callable[[Event], str] | None = None,
) -> tuple[list[Event], Outcome]:
    """Every event of `pcap` in timestamp order, and the merged outcome.

    With `render`, each worker renders its own events, all at once, and the
    lines come back in `outcome.lines` (the event list is then empty), in
    the order the events would have. What the parent does after the workers
    is serial: unpickling thousands of events and rendering them there cost
    a third of a second on a 512k-frame capture (bench/RESULTS.md).

    A capture found corrupt partway still gives the events of the frames
    before the bad record, and says why it stopped (`capture_error`)."""
    check_capture(pcap)  # a file that is no capture: one line, here

    def work(index: int, sensor: Sensor) -> Outcome:
        sensor.events.clear()
        cut_short = None
        try:
            # One worker keeps every record: the reader alone, as one process reads.
            share = FileShare(index, workers) if workers > 1 else None
            sensor.feed_all(read_capture(pcap, share))
        except PcapError as exc:
            cut_short = str(exc)
        sensor.close()
        outcome = Outcome(sensor.stats, sensor.adoption.snapshot(), capture_error=cut_short)
        if render is None:
            outcome.events = sensor.events
        else:
            outcome.lines = [(event.timestamp, render(event)) for event in sensor.events]
        return outcome

    outcomes = _run(make_sensor, workers, work)
    events = sorted((e for o in outcomes for e in o.events), key=lambda e: e.timestamp)
    merged = _merged(outcomes)
    merged.lines = sorted((line for o in outcomes for line in o.lines), key=lambda line: line[0])
    return events, merged


def sense_live(
    make_sensor: MakeSensor,
    captures: list[LiveCapture],
    run: Callable[[Sensor, LiveCapture], None],
    started: Callable[[], None] = lambda: None,
) -> Outcome:
    """`run(sensor, capture)` in one worker per capture (already in one fanout
    group); SIGTERM or SIGINT to this process stops them all. `started()` is
    called once they run and a stop would reach them all."""

    def work(index: int, sensor: Sensor) -> Outcome:
        for other, capture in enumerate(captures):
            if other != index:
                capture.close()
        with contextlib.suppress(KeyboardInterrupt):
            run(sensor, captures[index])
        sensor.close()
        return Outcome(sensor.stats, sensor.adoption.snapshot())

    return _merged(_run(make_sensor, len(captures), work, started))


def _merged(outcomes: list[Outcome]) -> Outcome:
    stats = merge_stats(o.stats for o in outcomes)
    shares = [o.stats.seen for o in outcomes]
    cpu = [c for o in outcomes for c in o.cpu_s]
    cut_short = next((o.capture_error for o in outcomes if o.capture_error), None)
    return Outcome(
        stats,
        merge_adoption(o.adoption for o in outcomes),
        capture_error=cut_short,
        shares=shares,
        cpu_s=cpu,
    )


def _run(
    make_sensor: MakeSensor,
    workers: int,
    work: Callable[[int, Sensor], Outcome],
    started: Callable[[], None] = lambda: None,
) -> list[Outcome]:
    """Fork `workers` processes, each running `work(index, its sensor)`."""
    channels: list[tuple[multiprocessing.context.ForkProcess, Connection]] = []
    # A stop that arrives while the workers are forked waits until every
    # handler is in place, then reaches them all (the workers unblock it once
    # theirs is).
    stops = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        for index in range(workers):
            receive, send = _FORK.Pipe(duplex=False)
            process = _FORK.Process(
                target=_worker, args=(index, make_sensor, work, send), daemon=True
            )
            process.start()
            send.close()
            channels.append((process, receive))
    except BaseException:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
        for process, _ in channels:
            process.kill()
        raise

    stopping = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:  # asked again (a service manager, an impatient user): the same request
            return
        stopping = True
        for process, _ in channels:
            if process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, forward)
    previous_int = signal.signal(signal.SIGINT, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
    started()
    outcomes: dict[int, Outcome] = {}
    try:
        waiting = {receive: index for index, (_, receive) in enumerate(channels)}
        while waiting:
            # Whichever ends first: a worker that failed is reported at
            # once, and the finally below stops the others (a live worker
            # would otherwise sense on until stopped, its peer's share of
            # the wire unwatched).
            for ready in multiprocessing.connection.wait(list(waiting)):
                assert isinstance(ready, Connection)
                index = waiting.pop(ready)
                process = channels[index][0]
                try:
                    outcome: Outcome = ready.recv()
                except EOFError:
                    process.join()
                    raise WorkerError(
                        f"worker {index} ended without a result (exit {process.exitcode})"
                    ) from None
                process.join()
                if outcome.error is not None:
                    raise WorkerError(
                        outcome.error if index == 0 else f"worker {index}: {outcome.error}"
                    )
                outcomes[index] = outcome
    finally:
        if stopping:
            # The command is leaving but still has its events and summary to
            # write: a repeated SIGTERM must not kill it halfway through them.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        else:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)
        for process, _ in channels:
            if process.is_alive():
                process.kill()
                process.join()
    return [outcomes[index] for index in range(workers)]


def _worker(
    index: int, make_sensor: MakeSensor, work: Callable[[int, Sensor], Outcome], send: Connection
) -> None:
    # The parent forwards SIGTERM/SIGINT; a worker stops the way one sensor does,
    # once: a second signal while it closes would lose its result.
    def stop(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sensor = make_sensor()  # a stop waits (blocked since the fork) until there is one to report
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
        outcome = work(index, sensor)
    except KeyboardInterrupt:  # stopped before its work began, or between two of its steps
        outcome = Outcome(sensor.stats, sensor.adoption.snapshot())
    except Exception as exc:  # one line to the parent, never a traceback
        outcome = Outcome(sensor.stats, {}, error=f"{type(exc).__name__}: {exc}")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    outcome.cpu_s = [usage.ru_utime + usage.ru_stime]
    send.send(outcome)
    send.close()
