"""`yunwang watch`: collectors, sensor, rules, posture, exporter and store in one process.

    with Watch(WatchOptions(estate_path=None)) as watch:   # the demo: simulated devices
        watch.run(deadline, refresh=lambda: show(watch.summary()))

`run` keeps polling, sensing and grading in their own threads
(yunwang/watch_loop.py); the caller's thread only refreshes the view.
With an Elasticsearch store the centre also grades what every producer
(`yunwang sense/collect --store`) ships, and warns when one goes silent.

With no estate the example city runs against simulated devices (snmpsim
serving generated recordings, a county in failover and a flapping
township link) and a capture with a few attacks is replayed through the
packet sensor, so a newcomer sees real warnings within a minute, without
root and without any server. Given an estate, the real devices are polled.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from estate import Estate, load
from estate.home import yunwang_home
from estate.model import Sensor as SensorSpec
from monitors.exporter import CollectionCollector, registry
from monitors.packets import PcapError, Sensor, read_capture
from monitors.packets.estate_policy import policy_from_estate
from monitors.packets.metrics import SensorCollector
from monitors.sim import scenarios
from monitors.snmp.collection import Collection, Snapshot, targets_from_estate
from monitors.snmp.poller import PollerSettings
from monitors.snmp.session import Target
from security.audit import record
from security.service import SecurityService, WatchConfig
from security.store import StoreError
from yunwang import watch_loop, watch_summary
from yunwang.watch_feed import CentreFeed
from yunwang.watch_loop import EventQueue, LoopCollector, LoopStats, Schedule

# The options, re-exported: callers import them from the job, as before.
from yunwang.watch_options import EXAMPLE as EXAMPLE
from yunwang.watch_options import OBSERVER as OBSERVER
from yunwang.watch_options import WatchError as WatchError
from yunwang.watch_options import WatchOptions as WatchOptions
from yunwang.watch_options import check
from yunwang.watch_sensors import (
    LiveSensor,
    LiveSensorError,
    SensorsCollector,
    open_live,
)
from yunwang.watch_summary import Summary as Summary  # re-exported: the view and log import it here

# The simulator (pysnmp) and the demo capture's writer (scapy) are imported
# where they start: options they refuse cost no second of imports.
if TYPE_CHECKING:
    from monitors.sim.fast import FastSimulatedEstate
    from monitors.traps.service import TrapService


class Watch:
    def __init__(self, options: WatchOptions) -> None:
        self.options = options
        self.simulated = (
            options.simulate if options.simulate is not None else options.estate_path is None
        )
        self.estate: Estate = load(options.estate_path or EXAMPLE)
        self._stack = contextlib.ExitStack()
        self._loop = asyncio.new_event_loop()
        self.sim: FastSimulatedEstate | None = None
        self.collection: Collection | None = None
        self.security: SecurityService | None = None
        self.sensor: Sensor | None = None
        self.traps: TrapService | None = None
        self.live: list[LiveSensor] = []
        self.live_specs: list[SensorSpec] = []  # with --live: the sensors to open here
        self.scenario: scenarios.Scenario | None = None  # simulated: the faults, parsed at start
        self.trap_address: tuple[str, int] | None = None  # where the receiver is bound
        self.problems: list[str] = []
        self.queue = EventQueue()
        self.stats = LoopStats()
        self.feed: CentreFeed | None = None  # with Elasticsearch: producers' events
        self._halt = threading.Event()
        self.stop_requested = False  # set from a signal handler: a plain flag

    # --- lifecycle ------------------------------------------------------------

    def __enter__(self) -> Watch:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        if not self._loop.is_running():  # a poll stuck past its deadline dies with the process
            self._loop.close()
        record(action="watch.stop", target=self.estate.file, detail={"cycles": self.cycles})

    def _start(self) -> None:
        opts = self.options
        record(
            action="watch.start",
            target=self.estate.file,
            detail={"simulated": self.simulated, "store": opts.store or "sqlite (default)"},
        )
        checked = check(opts, self.estate, self.simulated)
        self.scenario, self.live_specs = checked.scenario, checked.live
        config = WatchConfig(
            store=opts.store,
            alertmanager=opts.alertmanager,
            webhook=opts.webhook,
            metrics_port=opts.metrics_port,
            metrics_address=opts.metrics_address,
        )
        try:
            self.security = SecurityService(config, estate=self.estate, registry=registry())
        except StoreError as exc:
            raise WatchError(f"--store: {exc}") from None
        except ValueError as exc:  # urllib and the Elasticsearch client: a URL that does not parse
            raise WatchError(f"--store {opts.store!r}: {exc}") from None
        except OSError as exc:  # a store file or spool directory that cannot be made
            raise WatchError(f"--store {opts.store!r}: {exc.filename}: {exc.strerror}") from None
        # The metrics listener before the simulator: a port in use fails in a second.
        try:
            self.security.start()
        except OSError as exc:
            self.security.pipeline.close()
            raise WatchError(
                f"--listen {opts.metrics_address} --port {opts.metrics_port}: "
                f"cannot serve metrics ({exc.strerror})"
            ) from None
        self._stack.callback(self.security.stop)
        # Warnings saved and delivered by their own thread: grading never waits for that I/O.
        self.security.pipeline.writer.start()
        targets = self._targets()
        interval = opts.interval_s or (
            5.0 if self.simulated else self.estate.monitoring.poll_interval_s
        )
        self.interval_s = interval
        settings = self._poller_settings(interval)
        self.collection = Collection(self.estate, targets, settings)
        self._stack.callback(self.collection.close)
        collector = CollectionCollector(self.collection)
        registry().register(collector)
        self._stack.callback(registry().unregister, collector)
        self.sensor = Sensor(
            policy_from_estate(self.estate),
            observer=OBSERVER,
            keep_events=False,
            sinks=[self.queue.put],
        )
        loop_metrics = LoopCollector(self.stats, self.queue)
        registry().register(loop_metrics)
        self._stack.callback(registry().unregister, loop_metrics)
        self._open_feed()
        if opts.traps:
            self._start_traps()
        if not self.simulated and opts.pcap is None:
            self._start_live_sensors()
        sensors = [SensorCollector(self.sensor, OBSERVER)]
        sensors += [SensorCollector(live.sensor, live.spec.name) for live in self.live]
        sensor_metrics = SensorsCollector(sensors)  # one family per name, a sample per sensor
        registry().register(sensor_metrics)
        self._stack.callback(registry().unregister, sensor_metrics)
        self._pcap = opts.pcap or (self._demo_capture() if self.simulated else None)
        self._replayed = False

    def _start_traps(self) -> None:
        from monitors.traps.metrics import TrapCollector
        from monitors.traps.service import TrapService, receiver_settings

        assert self.collection is not None
        opts = self.options
        settings = receiver_settings(self.estate, opts.trap_address, opts.trap_port)
        self.traps = TrapService(self.collection, settings, sink=self.queue.put_one)
        # Last in, first out: close the receiver, then let the loop finish
        # the tasks that closing cancelled before the loop itself closes.
        self._stack.callback(self._settle)
        self._stack.callback(self.traps.close)
        self.trap_address = self._loop.run_until_complete(self.traps.start())
        metrics = TrapCollector(self.traps)
        registry().register(metrics)
        self._stack.callback(registry().unregister, metrics)
        record(action="watch.traps", target=f"{settings.listen}:{settings.port}",
               detail={"engine_id": self.traps.receiver.engine_id.hex()})  # fmt: skip

    def _start_live_sensors(self) -> None:
        try:
            self.live = open_live(self.estate, self.live_specs, self.queue.put)
        except LiveSensorError as exc:
            raise WatchError(str(exc)) from None
        for live in self.live:
            self._stack.callback(live.close)
        if self.live:
            record(action="watch.sense", target=",".join(s.spec.name for s in self.live),
                   detail={"interfaces": [s.spec.interface for s in self.live]})  # fmt: skip

    def _settle(self) -> None:
        if not self._loop.is_running():  # a poll stuck past its deadline dies with the process
            self._loop.run_until_complete(asyncio.sleep(0.01))

    def _targets(self) -> list[Target]:
        if not self.simulated:
            targets, problems = targets_from_estate(self.estate)
            self.problems += [str(p) for p in problems]
            return targets
        from monitors.sim.fast import FastSimulatedEstate

        assert self.scenario is not None  # parsed by check()
        self.sim = self._stack.enter_context(
            FastSimulatedEstate(
                self.estate, self.scenario, flap_period_s=self.options.flap_period_s
            )
        )
        targets, problems = self.sim.poll_targets()
        self.problems += [str(p) for p in problems]
        return targets

    def _poller_settings(self, interval: float) -> PollerSettings:
        if self.sim is not None:
            return self.sim.poller_settings(interval)
        return PollerSettings.for_estate(self.estate.monitoring, interval)

    def _demo_capture(self) -> Path:
        from monitors.sim.traffic import write_demo_capture

        path = yunwang_home() / "demo" / "attacks.pcap"
        write_demo_capture(self.estate, path, start=time.time())
        return path

    # --- the loop ---------------------------------------------------------------

    @property
    def latest(self) -> Snapshot | None:
        """The last cycle, with what re-polls after a trap changed since."""
        return self.collection.latest if self.collection else None

    @property
    def cycles(self) -> int:
        return self.collection.cycles if self.collection else 0

    def _open_feed(self) -> None:
        """With Elasticsearch, the centre: producers' events and heartbeats from the store."""
        assert self.security is not None
        try:
            self.feed = CentreFeed.open(
                self.estate, self.security.pipeline, self.stats, self.problems
            )
        except StoreError as exc:
            raise WatchError(f"--store: {exc}") from None

    def run(
        self,
        deadline: float | None,
        refresh: Callable[[], None] | None = None,
        done: Callable[[], bool] | None = None,
        refresh_s: float = 1.0,
    ) -> None:
        """Poll, sense and grade in their own threads until `deadline` (monotonic), `done()`
        or, with `options.cycles`, the last of those cycles."""
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(watch_loop.SWITCH_INTERVAL_S)
        workers = [watch_loop.thread("poll", self._poll_forever)]
        workers.append(watch_loop.thread("pipeline", self._pipeline_forever))
        if self.feed is not None:
            workers.append(watch_loop.thread("feed", partial(self.feed.forever, self._halt)))
        if self._pcap is not None and not self._replayed:
            self._replayed = True
            workers.append(watch_loop.thread("sensor", self._replay))
        for live in self.live:
            workers.append(
                watch_loop.thread(f"sensor-{live.spec.name}", partial(live.run, self._halt))
            )
        try:
            while deadline is None or time.monotonic() < deadline:
                left = (
                    refresh_s if deadline is None else min(refresh_s, deadline - time.monotonic())
                )
                watch_loop.wait_unless(lambda: self.stop_requested, self._halt, left)
                if self.stop_requested:
                    break
                if refresh is not None:
                    refresh()
                if (done is not None and done()) or self.cycles_done:
                    break
        finally:
            self._halt.set()
            self.queue.close()
            for worker in workers:  # a poll ends by its own deadline (PollerSettings)
                worker.join(timeout=self.interval_s * 3 + 10)
            try:
                self._drain()
            finally:
                sys.setswitchinterval(switch_interval)

    @property
    def cycles_done(self) -> bool:
        """All the cycles `options.cycles` asked for are done (never, without it)."""
        return 0 < self.options.cycles <= self.cycles

    def request_stop(self) -> None:
        """Ask `run` to end; safe in a signal handler (`watch_loop.wait_unless`)."""
        self.stop_requested = True

    def _poll_forever(self) -> None:
        self._loop.run_until_complete(self._poll_on_schedule())

    async def _poll_on_schedule(self) -> None:
        """The poll thread's loop: the schedule, and the trap receiver between cycles."""
        schedule = Schedule(self.interval_s)
        while not self.cycles_done and (lateness := await schedule.wait(self._halt)) is not None:
            self.stats.lateness_last_s = lateness
            self.stats.lateness_max_s = max(self.stats.lateness_max_s, lateness)
            if lateness > self.interval_s * watch_loop.LATE_FRACTION:
                self.stats.cycles_late += 1
                self.queue.put_now([watch_loop.late_event(lateness, self.interval_s)])
            await self.cycle()

    async def cycle(self) -> Snapshot:
        """One poll of every device; its events into the pipeline's queue (never waits)."""
        assert self.collection is not None
        snapshot = await self.collection.cycle()
        self.queue.put_now(snapshot.events)
        return snapshot

    def _pipeline_forever(self) -> None:
        assert self.security is not None
        next_anchor = 0.0
        while not self._halt.is_set():
            batch = self.queue.take()
            if batch:
                self.security.pipeline.submit(batch)
                self.stats.batches += 1
            if time.monotonic() >= next_anchor:
                next_anchor = time.monotonic() + 1.0
                self.security.anchor_audit()

    def _drain(self) -> None:
        """What is still queued when the loop stops is graded and stored, not dropped."""
        assert self.security is not None
        while batch := self.queue.take(wait_s=0):
            self.security.pipeline.submit(batch)
        if self.feed is not None:
            self.feed.read()
        self.security.pipeline.tick()
        self.security.pipeline.settle()

    def _replay(self) -> None:
        assert self.sensor is not None and self._pcap is not None
        try:
            self.sensor.feed_all(read_capture(self._pcap))
        except PcapError as exc:
            self.problems.append(f"--pcap: {exc}")
            return
        self.sensor.sweep(time.time(), everything=True)
        record(
            action="watch.replay", target=str(self._pcap), detail={"frames": self.sensor.stats.seen}
        )

    # --- what people see ----------------------------------------------------------

    def summary(self) -> Summary:
        assert self.security is not None
        pipeline = self.security.pipeline
        snap = self.latest
        now = pipeline.clock()
        sensors = [s.stats for s in (self.sensor, *(live.sensor for live in self.live)) if s]
        return Summary(
            estate=self.estate.file,
            mode="simulated" if self.simulated else "live",
            cycles=self.cycles,
            devices=watch_summary.device_states(snap),
            pairs=[v.to_json() for v in (snap.views if snap else [])],
            warnings=watch_summary.warnings_view(pipeline, now),
            posture=watch_summary.posture_view(pipeline, now),
            events=dict(pipeline.events_total),
            metrics_url=self.security.metrics_url,
            sensor=watch_summary.sensor_totals(sensors),
            loop=self.stats.to_dict(self.queue),
            silent=self.feed.silent() if self.feed is not None else [],
            audit=watch_summary.audit_view(self.security.audit_head),
        )
