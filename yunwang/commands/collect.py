"""`yunwang collect ESTATE`: poll the estate's devices, derive dual-link
state, serve Prometheus metrics (127.0.0.1 by default), write events.
`--once --json` prints one poll for machines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.table import Table

from estate import Estate, UnknownName
from estate.home import yunwang_home
from monitors.links import Thresholds
from monitors.snmp.collection import Collection, Snapshot, jsonl_sink, targets_from_estate
from monitors.snmp.poller import PollerSettings
from security.audit import record
from security.events import Event
from yunwang.commands._feed import HeartbeatOption, StoreOption, check_store_url, start_shipper
from yunwang.commands._traps import TrapListenOption, TrapPortOption, TrapsFlag
from yunwang.console import err, fail, load_estate, out, print_json


def register(app: typer.Typer) -> None:
    app.command("collect")(collect)


def _addresses(path: Path | None) -> dict[str, tuple[str, int]]:
    """A JSON map device -> "host" or "host:port" / "[v6]:port"."""
    if path is None:
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        fail(f"{path}: cannot read ({error.strerror})")
    except (ValueError, RecursionError) as error:
        # JSONDecodeError and UnicodeDecodeError are ValueErrors; so is a number
        # past Python's digit limit.
        fail(f"{path}: expected a JSON object of device -> address ({str(error)[:80]})")
    if not isinstance(raw, dict):
        fail(f"{path}: expected a JSON object of device -> address")
    result: dict[str, tuple[str, int]] = {}
    for device, text in raw.items():
        if not isinstance(text, str):
            fail(
                f"{path}: {device}: expected host, host:port or [v6]:port, found {type(text).__name__}"
            )
        value = text
        host, port = value, 161
        try:
            if value.startswith("["):
                host, _, rest = value[1:].partition("]")
                port = int(rest[1:]) if rest.startswith(":") else 161
            elif value.count(":") == 1:
                host, port_text = value.split(":")
                port = int(port_text)
        except ValueError:
            port = -1
        if not host or not 0 < port < 65536:
            fail(f"{path}: {device}: expected host, host:port or [v6]:port, found {value[:80]!r}")
        result[device] = (host, port)
    return result


def snapshot_json(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "at": snapshot.at.isoformat(),
        "cycle_s": round(snapshot.cycle_s, 3),
        "devices": [
            {
                "device": p.device,
                "host": p.host,
                "state": p.state,
                "error_kind": p.error_kind,
                "error": p.error,
                "vendor": p.vendor,
                "sys_name": p.sys_name,
                "duration_s": round(p.duration_s, 3),
                "varbinds": p.varbinds,
                "interfaces": len(p.interfaces),
                "rebooted": p.rebooted,
            }
            for p in snapshot.polls.values()
        ],
        "pairs": [v.to_json(readings=True) for v in snapshot.views],
        "unmatched": [str(u) for u in snapshot.unmatched],
        "events": [e.to_ecs() for e in snapshot.events],
    }


def collect(
    file: Annotated[Path, typer.Argument(help="The estate YAML file.", show_default=False)],
    once: Annotated[bool, typer.Option("--once", help="Poll once and exit.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    listen: Annotated[str, typer.Option(help="Exporter address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Exporter port.")] = 9817,
    addresses: Annotated[
        Path | None, typer.Option(help="JSON map device -> management address override.")
    ] = None,
    ipv6: Annotated[bool, typer.Option("--ipv6", help="Poll devices on mgmt6.")] = False,
    lab: Annotated[
        bool, typer.Option("--lab", help="Poll the running lab (yunwang lab up) instead.")
    ] = False,
    lab_dir: Annotated[
        Path | None, typer.Option(help="The lab's directory (implies --lab).")
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Devices polled at once.")] = 64,
    county: Annotated[
        str | None,
        typer.Option(help="Only this county's devices and dual links (a shard): code or name."),
    ] = None,
    traps: TrapsFlag = False,
    trap_listen: TrapListenOption = None,
    trap_port: TrapPortOption = None,
    dr_standby: Annotated[
        list[str] | None,
        typer.Option(
            help="Export a system's replication lag: TENANT/SYSTEM=HOST (lab hosts); "
            "default: the estate's dr.standby of each system, when the lab has that host."
        ),
    ] = None,
    store: StoreOption = None,
    heartbeat: HeartbeatOption = 60.0,
) -> None:
    """Poll every estate device; derive each dual link's state; export metrics."""
    if store is not None:
        check_store_url(store)  # before the estate loads: seconds for the city
    estate = load_estate(file)
    if county is not None:
        try:
            county = estate.resolve(county, ("county",))[1]  # 华龙区 as well as hl
        except UnknownName as exc:
            known = ", ".join(n.id for n in estate.nodes(level="county"))
            fail(f"--county: {exc} (counties: {known})")
    watched = _dr_watched(estate, dr_standby or [], lab or lab_dir is not None, lab_dir)
    overrides = _addresses(addresses)
    translate: Callable[[str], str] = str
    if lab or lab_dir is not None:
        overrides, translate = _lab_view(estate, lab_dir, ipv6)
    targets, problems = targets_from_estate(estate, overrides, prefer_ipv6=ipv6, county=county)
    if lab or lab_dir is not None:
        # Only the lab's slice: never send to the estate's real addresses.
        targets = [t for t in targets if t.name in overrides]
    for problem in problems:
        err.print(f"{file}: {problem}", markup=False)
    if not targets:
        fail(f"{file}: no device can be polled")
    monitoring = estate.monitoring
    settings = PollerSettings.for_estate(monitoring, monitoring.poll_interval_s, concurrency)
    shipper = None
    if store is not None:
        from security.feed import Producer, poller_name

        producer = Producer(poller_name(county), "poller", county)
        shipper = start_shipper(store, producer, estate, heartbeat)
    sink = _tee(jsonl_sink(), shipper.ship if shipper is not None else None)
    collection = Collection(estate, targets, settings, Thresholds(), sink, translate, county)
    record(action="collect.start", target=str(file), outcome="success",
           detail={"devices": len(targets), "once": once, "listen": f"{listen}:{port}",
                   "county": county})  # fmt: skip
    if once:
        snapshot = asyncio.run(_once(collection))
        if shipper is not None:
            shipper.close()
        if as_json:
            print_json(snapshot_json(snapshot))
        else:
            out.print(_pairs_table(snapshot))
            for line in snapshot.unmatched:
                out.print(f"unmatched: {line}", markup=False)
        return
    from monitors.exporter import CollectionCollector, registry, serve

    registry().register(CollectionCollector(collection))
    lag_watch = _dr_lag(
        watched, lab_dir, monitoring.poll_interval_s, shipper.ship if shipper else None
    )
    try:
        serve(port, listen)
    except OSError as exc:
        collection.close()
        fail(f"--listen {listen} --port {port}: cannot serve metrics ({exc.strerror})")
    stop = asyncio.Event()
    # A service manager stops us with SIGTERM: it sets `stop`, and the poll
    # loop ends at its next step, so the shipper's last batch reaches the store
    # or its spool and the lag watch stops. Not a cancellation: Python 3.11's
    # asyncio.wait_for can swallow one, and the process would poll on. A
    # repeated SIGTERM while the last batch ships is the same request, never a
    # kill; Ctrl-C still cancels.
    running: list[asyncio.AbstractEventLoop] = []

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        # Later ones are the same request; ignored (not a Python handler),
        # they cannot kill the process even while the interpreter shuts down.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if not running:
            stop.set()  # before the loop runs: no waiter to wake yet
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: leaving already
            running[0].call_soon_threadsafe(leave)

    def leave() -> None:
        stop.set()
        for task in tasks:
            task.cancel()  # the cycle under way ends now, not at its deadline

    tasks: list[asyncio.Task[Any]] = []

    async def until_stopped() -> None:
        running.append(asyncio.get_running_loop())
        task = asyncio.current_task()
        if task is not None:
            tasks.append(task)
        await run

    signal.signal(signal.SIGTERM, on_sigterm)
    out.print(f"collecting {len(targets)} devices every {monitoring.poll_interval_s:.0f}s; "
              f"metrics on http://{listen}:{port}/metrics", markup=False)  # fmt: skip
    run = (
        _with_traps(
            collection,
            trap_listen,
            trap_port,
            monitoring.poll_interval_s,
            stop,
            shipper.ship if shipper is not None else None,
        )
        if traps
        else collection.run(monitoring.poll_interval_s, stop)
    )

    try:
        asyncio.run(until_stopped())
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    except OSError as error:  # the trap port taken, or below 1024 without the right
        if not traps:
            raise
        fail(f"trap receiver: {error.strerror or error} (--trap-listen/--trap-port)")
    finally:
        collection.close()
        if lag_watch is not None:
            lag_watch.close()
        if shipper is not None:
            shipper.close()  # the last batch; what the store cannot take waits in its spool


def _dr_watched(estate: Estate, standbys: list[str], lab: bool, lab_dir: Path | None) -> list[Any]:
    from dr.lag import declared_watched, watched_from
    from dr.pair import DrError

    if not standbys:
        if not lab:
            return []
        from lab.errors import LabError
        from lab.lab import Lab

        try:  # the estate's standbys that stand in this lab's slice
            return declared_watched(estate, {h.name for h in Lab(lab_dir).hosts})
        except LabError:
            return []  # no lab up: the lab view says so in its own line
    if not lab:
        fail("--dr-standby: only lab hosts are reachable from here; pass --lab or --lab-dir")
    try:
        return watched_from(estate, standbys)
    except DrError as exc:
        fail(str(exc))


def _dr_lag(
    watched: list[Any],
    lab_dir: Path | None,
    interval_s: float,
    ship: Callable[[Event], None] | None,
) -> Any:
    """Each DR standby's lag, read every poll interval, as metrics and events
    (dr.jsonl, and with --store the store `dr status` reads)."""
    if not watched:
        return None
    from dr.lag import LagWatch
    from lab.lab import Lab
    from monitors.exporter import registry

    sink = _tee(jsonl_sink(yunwang_home() / "events" / "dr.jsonl"), ship)
    watch = LagWatch(Lab(lab_dir), watched, sink, interval_s)
    registry().register(watch)
    watch.start()
    return watch


def _with_traps(
    collection: Collection,
    address: str | None,
    port: int | None,
    interval_s: float,
    stop: asyncio.Event,
    ship: Callable[[Event], None] | None = None,
) -> Coroutine[Any, Any, None]:
    """The trap receiver beside the schedule; trap events in traps.jsonl."""
    from monitors.exporter import registry
    from monitors.traps.metrics import TrapCollector
    from monitors.traps.service import TrapService, receiver_settings, run_with_traps

    links, traps = jsonl_sink(), jsonl_sink(yunwang_home() / "events" / "traps.jsonl")

    def local(event: Event) -> None:
        (traps if event.dataset == "yunwang.traps" else links)(event)

    # --store: the centre grades traps and their re-polls too.
    sink = _tee(local, ship)
    settings = receiver_settings(collection.estate, address, port)
    service = TrapService(collection, settings, sink=sink)
    registry().register(TrapCollector(service))
    where = f"{settings.listen}:{settings.port}"
    record(action="collect.traps", target=where, outcome="success",
           detail={"engine_id": service.receiver.engine_id.hex()})  # fmt: skip
    out.print(f"receiving traps on udp {where}", markup=False)
    return run_with_traps(collection, service, interval_s, stop)


def _tee(
    local: Callable[[Event], None], ship: Callable[[Event], None] | None
) -> Callable[[Event], None]:
    """Events to the local file, and with --store to the centre as well."""
    if ship is None:
        return local

    def both(event: Event) -> None:
        local(event)
        ship(event)

    return both


def _lab_view(
    estate: Estate, directory: Path | None, ipv6: bool
) -> tuple[dict[str, tuple[str, int]], Callable[[str], str]]:
    from lab.errors import LabError
    from lab.polling import lab_view

    try:
        view = lab_view(estate, directory, ipv6)
    except LabError as error:
        fail(str(error))
    return view.addresses, view.translate


async def _once(collection: Collection) -> Snapshot:
    try:
        return await collection.cycle()
    finally:
        collection.close()


def _pairs_table(snapshot: Snapshot) -> Table:
    table = Table("pair", "level", "state", "reason")
    for view in snapshot.views:
        table.add_row(view.pair.id, view.pair.primary.level, view.state, view.reason)
    return table
