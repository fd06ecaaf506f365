"""Traps into the collection: each notification an event; a link notification
an out-of-cycle poll of its pair's devices, so the pair's state (and the
warning the rules raise on it) changes within a second, confirmed by SNMP.

    service = TrapService(collection, ReceiverSettings(port=162), sink=events.append)
    await service.start()          # on the loop the collection polls on
    ...
    service.close()

A trap is a hint, not a verdict: the pair's state still comes from what the
devices answer. Agents cache interface tables (net-snmp 3-5 s), so a
confirmation that shows no change is retried on `CONFIRM_AT_S`, and stops
at the first poll that changes the pair's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from estate import Estate
from estate.home import yunwang_home
from monitors.snmp.collection import Collection, EventSink
from monitors.traps.events import trap_event
from monitors.traps.placement import Placer
from monitors.traps.receiver import Notification, ReceiverSettings, TrapReceiver
from security.events import Event

log = logging.getLogger(__name__)

# Seconds after the trap at which the pair's devices are polled again,
# until one poll changes the pair's state.
CONFIRM_AT_S = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass
class TrapCounters:
    unknown_senders: int = 0
    repolls: int = 0
    confirmed: int = 0  # confirmations that changed a pair's state
    unconfirmed: int = 0  # confirmations that ran out without a change
    by_action: Counter[str] = field(default_factory=Counter)
    # seconds from a trap's arrival to the pair state it led to
    reaction_s: list[float] = field(default_factory=list)


class TrapService:
    def __init__(
        self,
        collection: Collection,
        settings: ReceiverSettings,
        sink: EventSink | None = None,
        confirm_at_s: tuple[float, ...] = CONFIRM_AT_S,
    ) -> None:
        self.collection = collection
        self.sink = sink
        self.confirm_at_s = confirm_at_s
        self.counters = TrapCounters()
        targets = collection.poller.targets
        self.placer = Placer(collection.estate, {t.host: t.name for t in targets},
                             collection.translate)  # fmt: skip
        v2c_allowed = collection.estate.monitoring.allow_v2c
        communities = tuple(
            sorted({t.credential.community for t in targets
                    if t.credential.version == 2 and t.credential.community and v2c_allowed})
        )  # fmt: skip
        declared = {d.name: d.engine_id for d in collection.estate.devices() if d.engine_id}
        self.receiver = TrapReceiver(
            settings,
            {t.host: (t.name, t.credential) for t in targets},
            self._notified,
            communities,
            {t.host: declared[t.name] for t in targets if t.name in declared},
        )
        self._confirming: dict[frozenset[str], asyncio.Task[None]] = {}
        self._newest: dict[frozenset[str], float] = {}  # pairs -> newest trap's arrival
        self._woken: dict[frozenset[str], asyncio.Event] = {}  # pairs -> a newer trap came

    async def start(self) -> tuple[str, int]:
        return await self.receiver.start()

    def close(self) -> None:
        for task in self._confirming.values():
            task.cancel()
        self._confirming.clear()
        self.receiver.close()

    def _emit(self, event: Event) -> None:
        if self.sink is not None:
            self.sink(event)

    def _notified(self, notification: Notification) -> None:
        latest = self.collection.latest
        placed = self.placer.place(notification, latest.polls if latest else {})
        if placed is None:
            self.counters.unknown_senders += 1
            return
        self.counters.by_action[placed.action] += 1
        self._emit(trap_event(notification, placed))
        if placed.about_links and placed.pairs:
            key = frozenset(p.id for p in placed.pairs)
            self._newest[key] = notification.received
            if key in self._confirming:
                # A burst about the same pairs (a link's IF-MIB, OSPFv2 and
                # OSPFv3 notifications) is one confirmation; a trap that
                # finds one waiting out its retries starts it over, polling
                # now rather than at the retry that was due.
                self._woken[key].set()
                return
            devices = {end.device for p in placed.pairs for link in (p.primary, p.backup)
                       for end in (link.child_end, link.parent_end)}  # fmt: skip
            self._woken[key] = asyncio.Event()
            task = asyncio.get_running_loop().create_task(self._confirm(devices, key))
            self._confirming[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))

    def _finished(self, key: frozenset[str], task: asyncio.Task[None]) -> None:
        self._confirming.pop(key, None)
        self._newest.pop(key, None)
        self._woken.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("confirming a trap failed: %s", task.exception())

    async def _confirm(self, devices: set[str], key: frozenset[str]) -> None:
        tracker, woken = self.collection.tracker, self._woken[key]
        step = 0
        while step < len(self.confirm_at_s):
            if woken.is_set():
                woken.clear()
                step = 0
            wait = self._newest[key] + self.confirm_at_s[step] - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), wait)
                if woken.is_set():
                    continue
            trap_at = self._newest[key]
            before = {pair: tracker.states.get(pair) for pair in key}
            snapshot = await self.collection.repoll(devices, self._emit)
            self.counters.repolls += 1
            if snapshot is None:
                return  # no first cycle yet: it will judge everything itself
            if any(tracker.states.get(pair) != state for pair, state in before.items()):
                self.counters.confirmed += 1
                self.counters.reaction_s.append(time.monotonic() - trap_at)
                if not woken.is_set():
                    return
                # A newer trap came while this poll was out (a restore during
                # the poll that confirmed the fault): it is confirmed in turn.
                continue
            step += 1
        self.counters.unconfirmed += 1


def receiver_settings(
    estate: Estate, listen: str | None, port: int | None, state_file: Path | None = None
) -> ReceiverSettings:
    """Flags first, then the estate's `monitoring.traps` (127.0.0.1:162); the
    engine's boots persist in `state_file` (default $YUNWANG_HOME/traps/engine.json)."""
    spec = estate.monitoring.traps
    engine_id = bytes.fromhex(spec.engine_id.removeprefix("0x")) if spec.engine_id else None
    return ReceiverSettings(
        listen or str(spec.listen),
        spec.port if port is None else port,
        engine_id=engine_id,
        state_file=state_file or yunwang_home() / "traps" / "engine.json",
    )


async def run_with_traps(
    collection: Collection, service: TrapService, interval_s: float, stop: asyncio.Event
) -> None:
    """The collection's schedule and the receiver on one loop."""
    await service.start()
    try:
        await collection.run(interval_s, stop)
    finally:
        service.close()
        await asyncio.sleep(0.01)  # the tasks closing cancelled finish before the loop ends
