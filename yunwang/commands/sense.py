"""`yunwang sense`: run the packet sensor on an interface or a capture file.

    yunwang sense --iface eth1 examples/small.yaml
    yunwang sense --pcap suspicious.pcapng examples/small.yaml --json

Events go to stdout (one line each, or ECS JSON lines with --json); the
summary goes to stderr. With --metrics-port the sensor's counters are served
for Prometheus on 127.0.0.1 (or --metrics-addr) while it runs.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import signal
import socket
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from security.events import Event
from yunwang.commands._feed import HeartbeatOption, StoreOption, check_store_url, start_shipper
from yunwang.console import EXIT_USAGE, fail, load_estate

if TYPE_CHECKING:
    from monitors.packets import Sensor, SensorStats
    from monitors.packets.capture import PcapWriter, Record
    from monitors.packets.parallel import Outcome

app_help = (
    "Watch the wire: ARP spoofing, scans, rogue routers and DHCP, forbidden cross-zone flows."
)


class _Stop(Exception):
    pass


def register(app: typer.Typer) -> None:
    app.command(name="sense", help=app_help)(sense)


def sense(
    estate_file: Annotated[Path, typer.Argument(metavar="ESTATE", help="The estate YAML")],
    iface: Annotated[
        str | None, typer.Option("--iface", help="Capture live on this interface")
    ] = None,
    pcap: Annotated[Path | None, typer.Option("--pcap", help="Replay a pcap/pcapng file")] = None,
    policy_file: Annotated[
        Path | None,
        typer.Option(
            "--policy", help="YAML overlay: gateway_macs, routers, dhcp_servers, thresholds"
        ),
    ] = None,
    bpf: Annotated[str | None, typer.Option("--bpf", help="BPF filter for live capture")] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Stop a live capture after SECONDS")
    ] = None,
    count: Annotated[
        int | None, typer.Option("--count", min=1, max=2**62, help="Stop after N frames")
    ] = None,
    write: Annotated[
        Path | None, typer.Option("--write", help="Also save the captured frames to this pcap")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Events as ECS JSON lines")] = False,
    observer: Annotated[
        str | None, typer.Option("--observer", help="Sensor name in events (default: hostname)")
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port", min=0, max=65535, help="Serve Prometheus metrics on this port"
        ),
    ] = None,
    metrics_addr: Annotated[
        str, typer.Option("--metrics-addr", help="Address for --metrics-port")
    ] = "127.0.0.1",
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Sensor processes (one per core); traffic is split by client address",
        ),
    ] = 1,
    store: StoreOption = None,
    heartbeat: HeartbeatOption = 60.0,
) -> None:
    if (iface is None) == (pcap is None):
        fail("give exactly one of --iface IF or --pcap FILE", EXIT_USAGE)
    if workers > 1 and (write is not None or metrics_port is not None or count is not None):
        fail("--workers above 1 works without --write, --metrics-port and --count", EXIT_USAGE)
    if workers > 1 and store is not None and iface is not None:
        # Each live worker is a forked process: a shipper's thread and spool
        # do not survive the fork, and N shippers would race on one spool.
        fail("--workers above 1 ships to --store from --pcap only", EXIT_USAGE)
    # Imported here so `yunwang --help` stays fast and the other verbs never pay for scapy.
    from monitors.packets import PcapError, PolicyError, Sensor, ThresholdError, read_capture
    from monitors.packets.capture import PcapWriter, capture_problem
    from monitors.packets.policy_cache import policy_for
    from monitors.packets.sensor import settle_memory
    from security.audit import record

    if store is not None:
        check_store_url(store)
    # Its first record before the policy loads: a mistyped path costs a moment.
    if pcap is not None and (problem := capture_problem(pcap)) is not None:
        fail(problem)
    # Compiled once per estate and cached: loading the city takes seconds.
    policy = policy_for(estate_file, load_estate)
    name = observer or socket.gethostname()
    try:
        if policy_file is not None:
            policy.apply_overlay(policy_file)
    except (PolicyError, ThresholdError) as exc:
        fail(str(exc))
    sinks: list[Callable[[Event], None]] = [_printer(as_json)]
    shipper = None
    if store is not None:
        from security.feed import Producer
        from security.fleet import county_of

        # Shipping needs the estate itself (the sensor's county, the
        # producer's context); the cached policy alone does not carry them.
        estate = load_estate(estate_file)
        declared = next((s for s in estate.sensors if s.name == name), None)
        county = county_of(estate, declared.node) if declared is not None else None
        shipper = start_shipper(store, Producer(name, "sensor", county), estate, heartbeat)
        sinks.append(shipper.ship)
    try:
        sensor = Sensor(policy, observer=name, sinks=sinks, keep_events=False)
    except (PolicyError, ThresholdError) as exc:
        # Thresholds are checked here, from the policy merged with the overlay.
        fail(f"{policy_file}: {exc}" if policy_file is not None else str(exc))
    if metrics_port is not None:
        _serve_metrics(sensor, name, metrics_addr, metrics_port)
    settle_memory(reading_file=pcap is not None)

    target = iface if iface is not None else str(pcap)
    if workers > 1:
        try:
            stats = _sense_workers(
                sinks,
                lambda keep: Sensor(
                    policy,
                    observer=name,
                    sinks=[] if keep else sinks,
                    keep_events=keep,
                ),
                pcap,
                iface,
                bpf,
                duration,
                workers,
                # Shipping needs the events themselves; printing only needs
                # their lines, which each worker renders for its own.
                _renderer(as_json) if shipper is None else None,
            )
        except SystemExit:
            _audit(record, target, "failure", estate_file, name, sensor.stats)
            raise
        finally:
            if shipper is not None:
                shipper.close()  # the last batch; what the store cannot take waits in its spool
        _audit(record, target, "success", estate_file, name, stats)
        _summary(stats)
        return
    try:
        writer = PcapWriter(write) if write is not None else None
    except OSError as exc:
        fail(f"--write {write}: cannot create ({exc.strerror})")
    outcome: Literal["success", "failure"] = "success"
    try:
        if pcap is not None:
            records: Iterable[Record] = read_capture(pcap)
            if count is not None:
                records = itertools.islice(records, count)
            _run(sensor, records, writer)
        else:
            assert iface is not None
            _live(sensor, iface, bpf, duration, count, writer)
    except PcapError as exc:
        outcome = "failure"
        fail(str(exc))
    except SystemExit:
        outcome = "failure"
        raise
    except BrokenPipeError:
        # `yunwang sense ... | head`: the reader has had enough.
        sys.stderr.close()
        raise typer.Exit(0) from None
    finally:
        sensor.close()
        if writer is not None:
            writer.close()
        if shipper is not None:
            shipper.close()  # the last batch; what the store cannot take waits in its spool
        _audit(record, target, outcome, estate_file, name, sensor.stats)
    _summary(sensor.stats)


def _audit(
    record: Callable[..., object],
    target: str,
    outcome: Literal["success", "failure"],
    estate_file: Path,
    name: str,
    stats: SensorStats,
) -> None:
    record(
        action="packets.sense",
        target=target,
        outcome=outcome,
        detail={
            "estate": str(estate_file),
            "observer": name,
            "seen": stats.seen,
            "parsed": stats.parsed,
            "malformed": stats.malformed,
            "dropped": stats.dropped,
            "events": dict(stats.events),
        },
    )


def _summary(stats: SensorStats) -> None:
    typer.echo(
        f"{stats.seen} frames, {stats.parsed} parsed, {stats.malformed} malformed, "
        f"{stats.dropped} dropped, {sum(stats.events.values())} events",
        err=True,
    )
    if stats.first_error is not None:
        typer.echo(f"warning: a detection failed on a packet: {stats.first_error}", err=True)


def _sense_workers(
    sinks: list[Callable[[Event], None]],
    make_sensor: Callable[[bool], Sensor],
    pcap: Path | None,
    iface: str | None,
    bpf: str | None,
    duration: float | None,
    workers: int,
    render: Callable[[Event], str] | None,
) -> SensorStats:
    """One sensor process per worker; their counters merged (monitors.packets.parallel).

    From a file, the events are printed (and shipped) here, merged in time
    order; with `render`, only printed, from the lines the workers rendered."""
    from monitors.packets import PcapError
    from monitors.packets.parallel import WorkerError, sense_file

    failures: tuple[type[Exception], ...] = (PcapError, WorkerError)
    if pcap is None:
        # Only live capture needs scapy's socket layer: a sixth of a second to import.
        from monitors.packets.live import CaptureError

        failures += (CaptureError,)
    try:
        if pcap is not None:
            events, outcome = sense_file(lambda: make_sensor(True), pcap, workers, render)
            for event in events:  # merged in time order, printed (and shipped) here
                for sink in sinks:
                    sink(event)
            sys.stdout.writelines(f"{line}\n" for _, line in outcome.lines)
            sys.stdout.flush()
            if outcome.capture_error is not None:
                fail(outcome.capture_error)  # after the events before it, as one process
        else:
            outcome = _fan_out(make_sensor, iface, bpf, duration, workers)
    except failures as exc:
        fail(str(exc))
    except BrokenPipeError:
        sys.stderr.close()
        raise typer.Exit(0) from None
    typer.echo(f"frames per process: {', '.join(map(str, outcome.shares))}", err=True)
    return outcome.stats


def _fan_out(
    make_sensor: Callable[[bool], Sensor],
    iface: str | None,
    bpf: str | None,
    duration: float | None,
    workers: int,
) -> Outcome:
    from monitors.packets.live import DEFAULT_BPF, LiveCapture, interface_exists
    from monitors.packets.parallel import sense_live

    assert iface is not None
    if not interface_exists(iface):
        fail(f"{iface}: no such network interface")
    captures: list[LiveCapture] = []
    try:
        group = None
        for _ in range(workers):
            captures.append(LiveCapture(iface, bpf if bpf is not None else DEFAULT_BPF))
            group = captures[-1].join_fanout(group)

        def run(sensor: Sensor, capture: LiveCapture) -> None:
            _run(sensor, capture.records(duration, None, sensor.stats), None)
            sensor.stats.dropped = capture.update_drops()

        def started() -> None:
            typer.echo(f"sensing on {iface} with {workers} processes", err=True)

        return sense_live(lambda: make_sensor(False), captures, run, started)
    finally:
        for capture in captures:
            capture.close()


def _run(sensor: Sensor, records: Iterable[Record], writer: PcapWriter | None) -> None:
    if writer is None:
        sensor.feed_all(records)
        return
    feed = sensor.feed
    for ts, frame, length in records:
        writer.write(ts, frame, length)
        feed(ts, frame, length)


def _live(
    sensor: Sensor,
    iface: str,
    bpf: str | None,
    duration: float | None,
    count: int | None,
    writer: PcapWriter | None,
) -> None:
    from monitors.packets.live import DEFAULT_BPF, CaptureError, LiveCapture, interface_exists

    if not interface_exists(iface):
        fail(f"{iface}: no such network interface")

    def stop(signum: int, frame: FrameType | None) -> None:
        # Once: the events and the summary are still to be written, and a
        # repeated SIGTERM must not cut them off.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise _Stop

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with LiveCapture(iface, bpf if bpf is not None else DEFAULT_BPF) as capture:
            # The stop may come as soon as "sensing on" is out: the line is inside.
            with contextlib.suppress(_Stop, KeyboardInterrupt):
                typer.echo(f"sensing on {iface}", err=True)
                _run(sensor, capture.records(duration, count, sensor.stats), writer)
            sensor.stats.dropped = capture.update_drops()
    except _Stop:
        pass  # stopped while the capture opened or closed: nothing more to sense
    except CaptureError as exc:
        fail(str(exc))
    finally:
        if signal.getsignal(signal.SIGTERM) is stop:
            signal.signal(signal.SIGTERM, previous)


def _renderer(as_json: bool) -> Callable[[Event], str]:
    def render(event: Event) -> str:
        if as_json:
            # The document the id was hashed from, kept: not built a second time.
            return json.dumps(event.document(), ensure_ascii=False, sort_keys=True)
        when = event.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return f"{when} {event.severity:>3} {event.rule_id} {event.message}"

    return render


def _printer(as_json: bool) -> Callable[[Event], None]:
    render = _renderer(as_json)

    def emit(event: Event) -> None:
        sys.stdout.write(render(event) + "\n")
        sys.stdout.flush()

    return emit


def _serve_metrics(sensor: Sensor, name: str, addr: str, port: int) -> None:
    from prometheus_client import CollectorRegistry

    from monitors.packets.metrics import SensorCollector
    from security.metrics import serve

    registry = CollectorRegistry()
    registry.register(SensorCollector(sensor, name))
    try:
        serve(registry, port, addr)
    except OSError as exc:
        fail(f"--metrics-port {port}: cannot listen on {addr} ({exc.strerror})")
