"""The collection loop: estate -> targets -> polls -> pair states -> events.

`Collection.cycle()` is one poll of every estate device and one evaluation
of every dual link; `latest` is what the exporter serves. Events go to a
sink (callable); the CLI's default sink appends ECS JSON lines under
$YUNWANG_HOME/events/.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from estate import Estate
from estate.home import yunwang_home
from estate.secrets import SecretMissing, resolve_snmp
from monitors.links import PairTracker, PairView, Thresholds
from monitors.snmp.mapping import Translate, Unmatched, unmatched_report
from monitors.snmp.poller import DevicePoll, Poller, PollerSettings
from monitors.snmp.session import Credential, Target
from security.events import SEVERITY_LOW, SEVERITY_MEDIUM, Context, Event

EventSink = Callable[[Event], None]


@dataclass(frozen=True)
class TargetProblem:
    device: str
    reason: str

    def __str__(self) -> str:
        return f"{self.device}: {self.reason}"


def resolve_credential(
    estate: Estate, name: str, defaults: Mapping[str, str] | None = None
) -> Credential:
    """`defaults`: keys for environment variables that are not set (the
    simulator's demo keys), see `estate.secrets.resolve_snmp`."""
    spec = estate.credential(name)
    if spec.version == 2:
        if not estate.monitoring.allow_v2c:
            raise SecretMissing("SNMPv2c is disabled (monitoring.allow_v2c is false)")
        return Credential(2, community=resolve_snmp(spec, defaults).community)
    if spec.auth_protocol not in ("sha", "sha256") or spec.priv_protocol not in (
        "aes128",
        "aes256",
    ):
        raise SecretMissing(
            f"unsupported protocols {spec.auth_protocol}/{spec.priv_protocol} "
            "(supported: sha, sha256 with aes128, aes256)"
        )
    keys = resolve_snmp(spec, defaults)
    return Credential(
        3,
        user=keys.user,
        auth_protocol=spec.auth_protocol,
        auth_key=keys.auth_key,
        priv_protocol=spec.priv_protocol,
        priv_key=keys.priv_key,
    )


def targets_from_estate(
    estate: Estate,
    addresses: dict[str, tuple[str, int]] | None = None,
    prefer_ipv6: bool = False,
    county: str | None = None,
    defaults: Mapping[str, str] | None = None,
) -> tuple[list[Target], list[TargetProblem]]:
    """`addresses` overrides a device's management address (the lab maps
    the estate's plan onto 198.18.0.0/15 and 2001:db8::/32). `county` keeps
    one county's devices: collectors shard by county and share nothing.
    `defaults` are keys for unset environment variables (`resolve_credential`)."""
    targets: list[Target] = []
    problems: list[TargetProblem] = []
    in_county = None if county is None else {n.id for n in estate.nodes(county=county)}
    for device in estate.devices():
        if in_county is not None and device.node not in in_county:
            continue
        try:
            credential = resolve_credential(estate, device.credential, defaults)
        except SecretMissing as error:
            problems.append(
                TargetProblem(device.name, f"credential {device.credential!r}: {error}")
            )
            continue
        host, port = (addresses or {}).get(
            device.name, (str(device.mgmt6 if prefer_ipv6 else device.mgmt4), 161)
        )
        targets.append(Target(device.name, host, credential, port))
    return targets, problems


@dataclass
class Snapshot:
    at: datetime
    cycle_s: float
    polls: dict[str, DevicePoll]
    views: list[PairView]
    unmatched: list[Unmatched]
    events: list[Event] = field(default_factory=list)


class Collection:
    def __init__(
        self,
        estate: Estate,
        targets: list[Target],
        settings: PollerSettings | None = None,
        thresholds: Thresholds | None = None,
        sink: EventSink | None = None,
        translate: Translate = str,
        county: str | None = None,
    ) -> None:
        self.estate = estate
        self.translate = translate
        self.county = county
        self.poller = Poller(targets, settings)
        self.tracker = PairTracker(estate.link_pairs(county=county), thresholds, translate)
        self.sink = sink
        self.latest: Snapshot | None = None
        self.cycles = 0
        self._device_states: dict[str, str] = {}
        nodes = {node.id: node for node in estate.nodes()}
        self._node_of = {device.name: nodes[device.node] for device in estate.devices()}
        # Each device's answer to its latest-sent poll. A cycle and a trap's
        # re-poll run at once (a cycle may wait most of an interval on a dead
        # device), so answers arrive out of order: the later-sent one counts.
        self._newest: dict[str, DevicePoll] = {}
        # Re-polls go one at a time (not with the cycle): in the lab,
        # concurrent confirmations of a converging network loaded the agents
        # enough that a blackhole took 1.1-1.3 s to judge instead of ~0.35 s.
        self._repolling = asyncio.Lock()

    def _adopt(self, polls: list[DevicePoll]) -> dict[str, DevicePoll]:
        """Keep the answers sent after the device's newest one; returns them."""
        adopted: dict[str, DevicePoll] = {}
        for poll in polls:
            newest = self._newest.get(poll.device)
            if newest is None or poll.sent >= newest.sent:
                self._newest[poll.device] = adopted[poll.device] = poll
        return adopted

    async def repoll(self, devices: set[str], sink: EventSink | None = None) -> Snapshot | None:
        """An out-of-cycle poll of some devices (a trap said something changed
        there): each device's answer replaces its latest poll and every pair
        is judged again as it arrives, so the first device that sees the
        fault decides (a blackholed township's own router answers only once
        routing has converged around it, an isolated one never). With a
        `sink` each judgment's events go there at once; without, they are
        returned in the snapshot, not sent. None before the first cycle,
        which polls everything anyway.

        It does not wait for a cycle in flight: each judgment (evaluate and
        changes, no await between) sees every device's newest-sent answer,
        whichever poll it came from. Re-polls wait for each other."""
        async with self._repolling:
            return await self._repoll(devices, sink)

    async def _repoll(self, devices: set[str], sink: EventSink | None) -> Snapshot | None:
        latest = self.latest
        if latest is None:
            return None
        started = time.monotonic()
        events: list[Event] = []
        newest = replace(latest, events=[])
        wanted = [t for t in self.poller.targets if t.name in devices]
        for answer in asyncio.as_completed([self.poller.poll_device(t) for t in wanted]):
            adopted = self._adopt([await answer])
            if not adopted:
                continue  # a poll sent after this one has answered already
            polls = dict(self._newest)
            at = datetime.now(UTC)
            views = self.tracker.evaluate(polls, time.monotonic())
            judged = self._device_events(adopted, at) + self.tracker.changes(views, at)
            newest = Snapshot(
                at, time.monotonic() - started, polls, views, latest.unmatched, judged
            )
            self.latest = newest
            events += judged
            if sink is not None:
                for event in judged:
                    sink(event)
        return replace(newest, events=events)

    async def cycle(self) -> Snapshot:
        started = time.monotonic()
        at = datetime.now(UTC)
        adopted = self._adopt(await self.poller.poll())
        polls = dict(self._newest)
        views = self.tracker.evaluate(polls, time.monotonic())
        events = self._device_events(adopted, at) + self.tracker.changes(views, at)
        snapshot = Snapshot(
            at,
            time.monotonic() - started,
            polls,
            views,
            unmatched_report(self.estate, polls, self.translate, self.county),
            events,
        )
        self.latest = snapshot
        self.cycles += 1
        if self.sink is not None:
            for event in events:
                self.sink(event)
        return snapshot

    def _device_events(self, polls: dict[str, DevicePoll], at: datetime) -> list[Event]:
        events = []
        for poll in polls.values():
            state = poll.state if poll.error_kind is None else f"{poll.state}:{poll.error_kind}"
            previous = self._device_states.get(poll.device)
            self._device_states[poll.device] = state
            if previous == state or (previous is None and poll.state == "reachable"):
                continue
            node = self._node_of.get(poll.device)
            if node is None:
                continue  # a target the estate does not declare: nothing to place it in
            events.append(
                Event(
                    timestamp=at,
                    dataset="yunwang.snmp",
                    action="device-state-changed",
                    message=f"{poll.device}: {poll.state}"
                    + (f" ({poll.error})" if poll.error else ""),
                    kind="state" if poll.state == "reachable" else "alert",
                    category=("network",) if poll.error_kind != "auth" else ("authentication",),
                    type=("change",),
                    severity=SEVERITY_MEDIUM if poll.error_kind == "auth" else SEVERITY_LOW,
                    outcome="success" if poll.state == "reachable" else "failure",
                    context=Context(
                        node=node.id,
                        device=poll.device,
                        county=node.county,
                        township=node.township,
                        level=node.level,
                        state=poll.state,
                    ),
                    labels=(("error_kind", poll.error_kind or "none"),),
                )
            )
        return events

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            await self.cycle()
            wait = max(0.0, interval_s - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)

    def close(self) -> None:
        self.poller.close()


def jsonl_sink(path: Path | None = None) -> EventSink:
    target = path or yunwang_home() / "events" / "links.jsonl"
    target.parent.mkdir(parents=True, exist_ok=True)

    def write(event: Event) -> None:
        with target.open("a", encoding="utf-8") as out:
            out.write(json.dumps(event.to_ecs(), ensure_ascii=False) + "\n")

    return write
