"""The poller: every device once per cycle, concurrently, never stalled.

Each device gets its own deadline inside the cycle, so a dead or slow agent
costs its own poll and nothing else. Interface names are walked on the first
poll, after a reboot, when an unknown ifIndex shows up, and every
`names_every` polls; in between only counters and status are read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from estate.schema import Monitoring
from monitors.snmp import tables
from monitors.snmp.ber import Oid, Value
from monitors.snmp.counters import Sample, rate, rebooted
from monitors.snmp.errors import ErrorKind, SnmpError
from monitors.snmp.profiles import GENERIC, VendorProfile, profile_for
from monitors.snmp.session import Credential, RetryPolicy, Session, Target, open_session
from monitors.snmp.transport import UdpTransport
from monitors.snmp.walk import walk_columns

log = logging.getLogger(__name__)
DeviceState = Literal["reachable", "slow", "unreachable"]
NAME_COLUMNS = [tables.IF_DESCR, tables.IF_TYPE, tables.IF_NAME, tables.IF_ALIAS]
ROUTING_COLUMNS = [
    tables.OSPF_NBR_STATE,
    tables.OSPFV3_NBR_STATE,
    tables.IP_AD_ENT_IF_INDEX,
    tables.IP_AD_ENT_NET_MASK,
    tables.IP_ADDRESS_IF_INDEX,
]


@dataclass(frozen=True, slots=True)
class InterfaceRates:
    receive_bps: float | None
    transmit_bps: float | None


@dataclass
class DevicePoll:
    """One device's result for one cycle."""

    device: str
    host: str
    state: DeviceState
    at: datetime
    duration_s: float
    requests: int = 0
    varbinds: int = 0
    error: str | None = None
    error_kind: ErrorKind | None = None
    sys_name: str = ""
    sys_descr: str = ""
    vendor: str = GENERIC.name
    uptime_ticks: int | None = None
    rebooted: bool = False
    interfaces: list[tables.Interface] = field(default_factory=list)
    neighbours: list[tables.OspfNeighbour] = field(default_factory=list)
    rates: dict[int, InterfaceRates] = field(default_factory=dict)
    addresses: dict[str, int] = field(default_factory=dict)  # local address -> ifIndex
    # time.monotonic() when the poll's first request went out: a cycle and a
    # trap's re-poll may poll a device at once, the later-sent answer is newer.
    sent: float = 0.0


@dataclass
class _Memory:
    """What the poller keeps per device between cycles."""

    profile: VendorProfile = GENERIC
    names: dict[Oid, dict[Oid, Value]] = field(default_factory=dict)
    polls_since_names: int = 0
    uptime: int | None = None
    uptime_at: float = 0.0
    samples: dict[tuple[int, str], Sample] = field(default_factory=dict)


@dataclass
class PollerSettings:
    timeout_s: float = 2.0
    retries: int = 2
    backoff: float = 2.0
    concurrency: int = 64
    deadline_s: float = 30.0  # one device's whole poll, all retries included
    slow_s: float = 1.0  # a poll longer than this (or needing retries) is "slow"
    names_every: int = 10
    routing: bool = True
    v3_engine: Literal["fast", "pysnmp"] = "fast"

    @classmethod
    def for_estate(
        cls, monitoring: Monitoring, interval_s: float, concurrency: int = 64
    ) -> PollerSettings:
        """The estate's timeout and retries; a device's deadline covers its
        whole retry ladder (the timeout doubling per retry) and never cuts a
        poll shorter than 80 % of the interval."""
        ladder = monitoring.timeout_s * (2 ** (monitoring.retries + 1))
        return cls(
            timeout_s=monitoring.timeout_s,
            retries=monitoring.retries,
            concurrency=concurrency,
            deadline_s=max(ladder, interval_s * 0.8),
        )


class Poller:
    def __init__(self, targets: list[Target], settings: PollerSettings | None = None) -> None:
        self.targets = targets
        self.settings = settings or PollerSettings()
        self.transport = UdpTransport()
        self.errors: Counter[tuple[str, str]] = Counter()  # (device, kind) -> count
        self._memory: dict[str, _Memory] = {t.name: _Memory() for t in targets}
        policy = RetryPolicy(self.settings.timeout_s, self.settings.retries, self.settings.backoff)
        self._sessions: dict[str, Session] = {}
        self._config_errors: dict[str, SnmpError] = {}
        v3_users: dict[str, Credential] = {}
        for target in targets:
            try:
                self._sessions[target.name] = open_session(target, self.transport, policy, v3_users)
            except SnmpError as error:
                self._config_errors[target.name] = error

    async def poll(self) -> list[DevicePoll]:
        """One cycle over every device; results in target order."""
        limit = asyncio.Semaphore(self.settings.concurrency)

        async def one(target: Target) -> DevicePoll:
            async with limit:
                return await self.poll_device(target)

        return list(await asyncio.gather(*(one(t) for t in self.targets)))

    async def poll_device(self, target: Target) -> DevicePoll:
        started = time.monotonic()
        at = datetime.now(UTC)
        session = self._sessions.get(target.name)
        try:
            if session is None:
                raise self._config_errors[target.name]
            result = await asyncio.wait_for(
                self._read(target, session, started, at), self.settings.deadline_s
            )
        except Exception as error:  # one device never ends the cycle
            kind: ErrorKind
            if isinstance(error, SnmpError):
                kind = error.kind
            elif isinstance(error, TimeoutError):
                kind = "timeout"
            else:
                kind = "internal"
                log.warning("%s: poll failed on %r", target.name, error)
                log.debug("%s: traceback", target.name, exc_info=True)
            self.errors[(target.name, kind)] += 1
            return DevicePoll(
                device=target.name,
                host=target.host,
                state="unreachable",
                at=at,
                duration_s=time.monotonic() - started,
                sent=started,
                requests=session.requests if session else 0,
                error=str(error) or f"{target.name}: poll deadline exceeded",
                error_kind=kind,
            )
        return result

    async def _read(
        self, target: Target, session: Session, started: float, at: datetime
    ) -> DevicePoll:
        memory = self._memory[target.name]
        attempts_before, requests_before = session.attempts, session.requests
        system = {oid: value for oid, _tag, value in await session.get(tables.SYSTEM_OIDS)}
        read_at = time.monotonic()
        object_id = system.get(tables.SYS_OBJECT_ID)
        memory.profile = profile_for(object_id if isinstance(object_id, tuple) else None)
        uptime = system.get(tables.SYS_UPTIME)
        uptime = uptime if isinstance(uptime, int) else None
        did_reboot = rebooted(memory.uptime, uptime, read_at - memory.uptime_at)

        refresh = (
            did_reboot or not memory.names or memory.polls_since_names >= self.settings.names_every
        )
        columns = tables.COUNTER_COLUMNS + (NAME_COLUMNS if refresh else [])
        columns += ROUTING_COLUMNS if self.settings.routing else []
        walked = await walk_columns(session, columns)
        if not refresh and _unknown_indexes(walked, memory.names):
            walked.update(await walk_columns(session, NAME_COLUMNS))
            refresh = True
        if refresh:
            memory.names = {c: walked.pop(c, {}) for c in NAME_COLUMNS}
            memory.polls_since_names = 0
        memory.polls_since_names += 1
        interfaces = tables.build_interfaces({**memory.names, **walked}, memory.profile)
        rates = self._rates(memory, interfaces, read_at, did_reboot)
        memory.uptime, memory.uptime_at = uptime, read_at

        duration = time.monotonic() - started
        requests = session.requests - requests_before
        retried = session.attempts - attempts_before > requests
        slow = duration > self.settings.slow_s or retried
        return DevicePoll(
            device=target.name,
            host=target.host,
            state="slow" if slow else "reachable",
            at=at,
            duration_s=duration,
            sent=started,
            requests=requests,
            varbinds=len(system) + sum(len(c) for c in walked.values()),
            sys_name=tables.text(system.get(tables.SYS_NAME)),
            sys_descr=tables.text(system.get(tables.SYS_DESCR)),
            vendor=memory.profile.name,
            uptime_ticks=uptime,
            rebooted=did_reboot,
            interfaces=interfaces,
            neighbours=tables.build_neighbours(walked),
            addresses=tables.build_addresses(walked),
            rates=rates,
        )

    def _rates(
        self, memory: _Memory, interfaces: list[tables.Interface], at: float, did_reboot: bool
    ) -> dict[int, InterfaceRates]:
        rates: dict[int, InterfaceRates] = {}
        for row in interfaces:
            pair: list[float | None] = []
            for direction, value in (("in", row.in_octets), ("out", row.out_octets)):
                if value is None:
                    pair.append(None)
                    continue
                sample = Sample(value, row.counter_bits, at)
                previous = memory.samples.get((row.index, direction))
                memory.samples[(row.index, direction)] = sample
                octets = (
                    None if previous is None else rate(previous, sample, row.speed_bps, did_reboot)
                )
                pair.append(None if octets is None else octets * 8)
            rates[row.index] = InterfaceRates(pair[0], pair[1])
        return rates

    def close(self) -> None:
        self.transport.close()


def _unknown_indexes(
    walked: dict[Oid, dict[Oid, Value]], names: dict[Oid, dict[Oid, Value]]
) -> bool:
    known = set(names.get(tables.IF_DESCR, {}))
    return any(index not in known for index in walked.get(tables.IF_OPER_STATUS, {}))
