"""`yunwang watch`: the main job."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from dashboards.web import DEFAULT_PORT
from yunwang.commands._leaving import leave_on_sigterm
from yunwang.commands._traps import TrapListenOption, TrapPortOption, TrapsFlag
from yunwang.console import EXIT_USAGE, err, fail, out, print_json

if TYPE_CHECKING:
    from yunwang.watch_job import Watch


def register(app: typer.Typer) -> None:
    app.command("watch")(watch)


def watch(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Estate to watch (default: the example city, simulated).", show_default=False
        ),
    ] = None,
    simulate: Annotated[
        bool | None,
        typer.Option(
            "--simulate/--live", help="Simulated devices (default without FILE) or the real ones."
        ),
    ] = None,
    scenario: Annotated[
        str, typer.Option(help="Simulated faults: demo, normal, county-failover[:ID]+…")
    ] = "demo",
    duration: Annotated[
        float, typer.Option(help="Stop after this many seconds (0: until Ctrl-C).")
    ] = 0,
    cycles: Annotated[
        int,
        typer.Option(min=0, help="Stop once this many poll cycles are done (0: no limit)."),
    ] = 0,
    interval: Annotated[float | None, typer.Option(help="Seconds between polls.")] = None,
    pcap: Annotated[
        Path | None, typer.Option(help="Capture to replay through the packet sensor.")
    ] = None,
    store: Annotated[
        str | None, typer.Option(help="sqlite:///PATH or http://HOST:9200/?namespace=NS")
    ] = None,
    alertmanager: Annotated[str | None, typer.Option(help="Alertmanager base URL.")] = None,
    webhook: Annotated[str | None, typer.Option(help="Generic webhook URL for warnings.")] = None,
    listen: Annotated[str, typer.Option(help="Metrics address.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Metrics port (0: any free port).")
    ] = 9464,
    as_json: Annotated[
        bool, typer.Option("--json", help="No live view: one JSON summary at the end.")
    ] = False,
    web: Annotated[bool, typer.Option("--web", help="Serve the web view (一屏统览) too.")] = False,
    web_listen: Annotated[str, typer.Option(help="Web view address.")] = "127.0.0.1",
    web_port: Annotated[
        int, typer.Option(help="Web view port (0: any free port).", min=0, max=65535)
    ] = DEFAULT_PORT,
    cert: Annotated[Path | None, typer.Option(help="TLS certificate for the web view.")] = None,
    key: Annotated[Path | None, typer.Option(help="TLS private key for the web view.")] = None,
    status_every: Annotated[
        float,
        typer.Option(
            "--status-every",
            help="When stdout is not a terminal: seconds between status lines.",
        ),
    ] = 60.0,
    traps: TrapsFlag = False,
    trap_listen: TrapListenOption = None,
    trap_port: TrapPortOption = None,
    sensor: Annotated[
        list[str] | None,
        typer.Option(
            "--sensor",
            help="With --live: capture as this declared sensor (repeatable; "
            "default: the sensors whose node is this host).",
        ),
    ] = None,
) -> None:
    """Poll, sense, grade and store: posture and early warnings, live.

    With stdout not a terminal (a pipe, systemd, a container log) it logs one
    line per warning opened, escalated or resolved and a status line a minute.
    """
    if interval is not None and interval <= 0:
        fail(f"--interval: expected seconds > 0, got {interval}", EXIT_USAGE)
    if status_every <= 0:
        fail(f"--status-every: expected seconds > 0, got {status_every}", EXIT_USAGE)
    # Imported here: the main job's imports (scapy, the poller) cost every other verb a second.
    from estate import EstateError
    from monitors.sim import SimError
    from yunwang.watch_job import Watch, WatchError, WatchOptions

    options = WatchOptions(
        estate_path=file,
        simulate=simulate,
        scenario=scenario,
        interval_s=interval,
        pcap=pcap,
        store=store,
        alertmanager=alertmanager,
        webhook=webhook,
        metrics_address=listen,
        metrics_port=port,
        traps=traps,
        trap_address=trap_listen,
        trap_port=trap_port,
        sensors=tuple(sensor or ()),
        cycles=cycles,
    )
    try:
        runner = Watch(options)
    except EstateError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        raise SystemExit(1) from None
    names = {n.id: n.name for n in runner.estate.nodes() if n.level != "village"}
    # A service manager stops us with SIGTERM: leave as cleanly as on Ctrl-C
    # (the simulator stopped, the store flushed, the audit trail written).
    leave_on_sigterm(runner.request_stop)
    signal.signal(signal.SIGINT, partial(_interrupted, runner))
    deadline = time.monotonic() + duration if duration > 0 else None
    try:
        with runner, _web(runner, web, web_listen, web_port, cert, key) as web_changed:
            for line in runner.problems:
                err.print(f"{runner.estate.file}: {line}", markup=False)
            if as_json:
                # Stopped before --duration (Ctrl-C, a service manager's SIGTERM)
                # is an end too: the summary of what ran is still printed.
                with suppress(KeyboardInterrupt):
                    _loop(runner, deadline, web_changed)
            elif not sys.stdout.isatty():
                from yunwang.watchlog import WatchLog

                log = WatchLog(sys.stdout, status_every)

                def log_update() -> None:
                    log.update(runner.summary(), time.monotonic())
                    web_changed()

                _loop(runner, deadline, log_update)
            else:
                _live(runner, deadline, names, web_changed)
            summary = runner.summary()
    except WatchError as exc:
        fail(str(exc))
    except SimError as exc:
        fail(f"simulated devices: {exc}")
    except OSError as exc:
        fail(f"watch: {exc}")
    except KeyboardInterrupt:
        err.print("stopped")
        return
    if as_json:
        print_json(summary.to_dict())


@contextmanager
def _web(
    runner: Watch, on: bool, host: str, port: int, cert: Path | None, key: Path | None
) -> Iterator[Callable[[], None]]:
    """The web view beside the loop when asked for (imported only then: it is not small)."""
    if not on:
        yield lambda: None
        return
    from dashboards.web.server import WebOptions
    from yunwang.web import web_view

    with web_view(runner, WebOptions(host, port, certfile=cert, keyfile=key)) as changed:
        yield changed


def _live(
    runner: Watch, deadline: float | None, names: dict[str, str], web_changed: Callable[[], None]
) -> None:
    from rich.live import Live

    from yunwang.watch_view import render

    with Live(render(runner.summary(), names), console=out, refresh_per_second=2) as live:

        def refresh() -> None:
            live.update(render(runner.summary(), names))
            web_changed()

        _loop(runner, deadline, refresh)


def _interrupted(runner: Watch, signum: int, frame: FrameType | None) -> None:
    """Ctrl-C: the loop ends at its next look (`Watch.request_stop`); a second
    Ctrl-C interrupts at once, start-up included."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    runner.request_stop()


def _loop(runner: Watch, deadline: float | None, refresh: Callable[[], None] | None = None) -> None:
    runner.run(deadline, refresh)
    if runner.stop_requested:  # raised here, outside any lock: leaves as Ctrl-C always did
        raise KeyboardInterrupt
