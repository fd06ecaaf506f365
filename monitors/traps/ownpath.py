"""The receiver's own path: authenticated SNMPv3 notifications without pysnmp.

pysnmp spends ~1.3-2.2 ms of CPU on each message; a city's devices
rebooting at once send thousands of informs, each after a discovery probe
(bench/RESULTS.md). So the probes, and the authPriv traps and informs from
engines whose keys are held, are read and answered here with yunwang's
own codec: HMAC first, then AES, then the PDU. Anything else (v2c, the
first trap of a new engine, an inform outside the time window, which is
owed a notInTimeWindow Report) is pysnmp's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from monitors.snmp import ber, usm
from monitors.traps import wire

WINDOW_S = 150  # RFC 3414's time window
MAX_ENGINES = 100_000  # sending engines whose timeline is kept
Taken = tuple[usm.V3Message, bytes, str] | Literal["discovery"] | None


class OwnPath:
    """`keys` is the receiver's table of localised keys by (engine id, user),
    shared and kept up to date by the receiver."""

    def __init__(
        self,
        engine_id: bytes,
        boots: int,
        keys: dict[tuple[bytes, str], list[usm.LocalKeys]],
        send: Callable[[bytes, tuple[str, int]], None],
    ) -> None:
        self.engine_id = engine_id
        self.boots = boots
        self.keys = keys
        self.send = send
        self.probes = 0  # usmStatsUnknownEngineIDs, as our Reports count them
        self._started = time.monotonic()  # as pysnmp's snmpEngineTime, give or take a tick
        # Each sending engine's latest (boots, time, when), against replays.
        self._timeline: dict[bytes, tuple[int, int, float]] = {}

    def now(self) -> int:
        return int(time.monotonic() - self._started)

    def take(self, datagram: bytes, source: tuple[str, int]) -> Taken:
        """ "discovery" (answered), (message, engine id, user) to deliver
        (an inform already acknowledged), or None: pysnmp's turn. Raises
        wire.Forged (HMAC fails) or wire.Stale (a replay)."""
        try:
            head = usm.peek_header(datagram)
            probe = wire.probe(datagram, head) if head is not None else None
        except ber.BerError:
            return None
        if probe is not None:
            self.probes += 1
            self.send(wire.report(self._engine(), *probe, self.probes), source)
            return "discovery"
        authpriv = usm.FLAG_AUTH | usm.FLAG_PRIV
        if head is None or head.flags is None or head.flags & authpriv != authpriv:
            return None
        user = head.user.decode("utf-8", "replace")
        keys = self.keys.get((head.engine_id, user))
        if not keys:
            return None
        ours = head.engine_id == self.engine_id
        if ours and (head.boots != self.boots or abs(head.engine_time - self.now()) > WINDOW_S):
            return None  # pysnmp answers with the notInTimeWindow Report
        key = next((k for k in keys if usm.authentic(datagram, head, k)), None)
        if key is None:
            raise wire.Forged
        try:
            message = wire.open_notification(datagram, key)
        except (ber.BerError, usm.UsmError):
            return None  # authentic, but not a notification our codec reads: pysnmp's
        if not ours:
            self._timely(head.engine_id, head.boots, head.engine_time)
        if message.pdu_type == ber.PDU_INFORM:
            self.send(wire.response(message, head.user, self._engine(), key), source)
        return message, message.context_engine, user  # as pysnmp's: the contextEngineID

    def _engine(self) -> usm.EngineState:
        return usm.EngineState(self.engine_id, self.boots, self.now(), time.monotonic())

    def _timely(self, engine_id: bytes, boots: int, engine_time: int) -> None:
        """RFC 3414 3.2.7b, as the non-authoritative side: a trap older than
        what this engine already said is a replay."""
        latest = self._timeline.get(engine_id)
        now = time.monotonic()
        if latest is not None:
            last_boots, last_time, at = latest
            expected = last_time + int(now - at)
            if boots < last_boots or (boots == last_boots and engine_time < expected - WINDOW_S):
                raise wire.Stale
            if (boots, engine_time) <= (last_boots, expected):
                return
        if len(self._timeline) >= MAX_ENGINES and engine_id not in self._timeline:
            self._timeline.pop(next(iter(self._timeline)))
        self._timeline[engine_id] = (boots, engine_time, now)
