"""`yunwang watch`: the main job."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.live import Live

from estate import EstateError
from monitors.sim import SimError
from yunwang.console import err, fail, out, print_json
from yunwang.watching import Watch, WatchOptions
from yunwang.watchview import render


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
    port: Annotated[int, typer.Option(help="Metrics port (0: any free port).")] = 9464,
    as_json: Annotated[
        bool, typer.Option("--json", help="No live view: one JSON summary at the end.")
    ] = False,
    traps: Annotated[
        bool, typer.Option("--traps", help="Receive SNMP traps/informs; re-poll a pair at once.")
    ] = False,
    trap_listen: Annotated[
        str | None, typer.Option(help="Trap receiver address (estate's, else 127.0.0.1).")
    ] = None,
    trap_port: Annotated[
        int | None, typer.Option(help="Trap receiver UDP port (estate's, else 162).")
    ] = None,
) -> None:
    """Poll, sense, grade and store: posture and early warnings, live."""
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
    signal.signal(signal.SIGTERM, _interrupt)
    deadline = time.monotonic() + duration if duration > 0 else None
    try:
        with runner:
            for line in runner.problems:
                err.print(f"{runner.estate.file}: {line}", markup=False)
            if as_json:
                _loop(runner, deadline)
            else:
                with Live(
                    render(runner.summary(), names), console=out, refresh_per_second=2
                ) as live:
                    _loop(runner, deadline, lambda: live.update(render(runner.summary(), names)))
            summary = runner.summary()
    except SimError as exc:
        fail(f"simulated devices: {exc}")
    except OSError as exc:
        fail(f"watch: {exc}")
    except KeyboardInterrupt:
        err.print("stopped")
        return
    if as_json:
        print_json(summary.to_dict())


def _loop(runner: Watch, deadline: float | None, refresh: object = None) -> None:
    while deadline is None or time.monotonic() < deadline:
        started = time.monotonic()
        runner.cycle()
        if callable(refresh):
            refresh()
        if deadline is not None and time.monotonic() >= deadline:
            break
        runner.wait_next(started)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
