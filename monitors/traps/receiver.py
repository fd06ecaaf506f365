"""The trap and inform receiver: pysnmp's notification receiver on one UDP socket.

SNMPv3 authPriv with the estate's credentials (users.py: which engine ids'
keys are held, and how a device's engine id is learnt); v2c communities
only when the estate allows v2c. Informs are acknowledged (this engine is
their authoritative side, so senders discover it as RFC 3414 says).
Authenticated v3 messages from engines whose keys are held take yunwang's
own path (ownpath.py); pysnmp reads the rest.

Every datagram that reaches the socket ends in exactly one counter: a
notification (trap or inform), a discovery probe answered, or a rejection
by reason (oversized, malformed, wrong-digest, ...). One that is bad costs
only itself, whatever part of the path refused it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyasn1.type import univ  # type: ignore[import-untyped]
from pysnmp.carrier.asyncio.dgram import udp, udp6  # type: ignore[import-untyped]
from pysnmp.entity import config, engine  # type: ignore[import-untyped]
from pysnmp.entity.rfc3413 import ntfrcv  # type: ignore[import-untyped]
from pysnmp.proto.api import v2c  # type: ignore[import-untyped]

from monitors.snmp import ber, usm
from monitors.snmp.ber import Oid
from monitors.snmp.session import Credential
from monitors.traps import wire
from monitors.traps.ownpath import OwnPath
from monitors.traps.users import EngineUsers

log = logging.getLogger(__name__)

RECEIVE_BUFFER = 8 << 20  # ~30,000 notifications queued in the kernel
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
MAX_DATAGRAM = 8192  # a notification is a few hundred bytes; bigger is hostile
SNMP_TRAP_OID = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
# pysnmp's own counters, read after each datagram to say why it was refused.
_REASONS = {
    "__SNMP-USER-BASED-SM-MIB": {
        "usmStatsWrongDigests": "wrong-digest",
        "usmStatsUnknownUserNames": "unknown-user",
        "usmStatsDecryptionErrors": "decryption-error",
        "usmStatsNotInTimeWindows": "not-in-time-window",
        "usmStatsUnsupportedSecLevels": "unsupported-security-level",
        "usmStatsUnknownEngineIDs": "unknown-engine-id",
    },
    "__SNMPv2-MIB": {
        "snmpInASNParseErrs": "malformed",
        "snmpInBadVersions": "bad-version",
        "snmpInBadCommunityNames": "bad-community",
    },
}


@dataclass(frozen=True)
class Notification:
    """One authenticated trap or inform, as plain Python values."""

    at: datetime
    received: float  # time.monotonic() on arrival
    source: str  # the sender's address
    port: int
    version: str  # "v2c" | "v3"
    confirmed: bool  # an inform (acknowledged)
    engine_id: bytes  # contextEngineID: the sending agent
    user: str  # v3 user or "community"
    trap_oid: Oid
    uptime: int | None
    varbinds: list[tuple[Oid, Any]]


@dataclass
class ReceiverStats:
    datagrams: int = 0
    notifications: Counter[str] = field(default_factory=Counter)  # "trap" | "inform"
    discovery: int = 0  # engine-id probes from inform senders (answered with a Report)
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> datagrams
    engines_learned: int = 0
    fast: int = 0  # of the notifications, decoded by yunwang's codec rather than pysnmp

    def record(self, outcome: str) -> None:
        """One datagram's end: "trap", "inform", "discovery" or why it was refused."""
        if outcome in ("trap", "inform"):
            self.notifications[outcome] += 1
        elif outcome == "discovery":
            self.discovery += 1
        else:
            self.rejected[outcome] += 1


@dataclass(frozen=True)
class ReceiverSettings:
    listen: str = "127.0.0.1"
    port: int = 162
    # Our engine id (informs are sent to it) and its boot count, kept across
    # restarts: a sender caches both, and an inform to a forgotten engine id
    # is never answered. Declared, or made once and kept in `state_file`.
    engine_id: bytes | None = None
    state_file: Path | None = None
    # False: every message through pysnmp (bench/traps_bench.py's peer).
    own_codec: bool = True


def local_engine(settings: ReceiverSettings) -> tuple[bytes | None, int | None]:
    """(engine id, boots) for this start; the state file records them."""
    path = settings.state_file
    if path is None:
        return settings.engine_id, None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        engine_id, boots = bytes.fromhex(saved["engine_id"]), int(saved["boots"])
    except (OSError, ValueError, KeyError, TypeError):
        # RFC 3411 format 5 (octets, administratively assigned): the Net-SNMP
        # enterprise number, then random octets.
        engine_id, boots = b"\x80\x00\x1f\x88\x05" + os.urandom(8), 0
    engine_id = settings.engine_id or engine_id
    boots = min(boots + 1, 2**31 - 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps({"engine_id": engine_id.hex(), "boots": boots}))
    scratch.replace(path)
    return engine_id, boots


class TrapReceiver:
    """`devices` maps a sender address to the estate device and its credential."""

    def __init__(
        self,
        settings: ReceiverSettings,
        devices: dict[str, tuple[str, Credential]],
        on_notification: Callable[[Notification], None],
        communities: tuple[str, ...] = (),
        engines: dict[str, bytes] | None = None,
    ) -> None:
        """`engines`: sender address -> engine id the estate declares for it."""
        self.settings = settings
        self.on_notification = on_notification
        self.stats = ReceiverStats()
        engine_id, boots = local_engine(settings)
        self.engine = engine.SnmpEngine(
            snmpEngineID=None if engine_id is None else univ.OctetString(engine_id)
        )
        if boots is not None:
            counter = self._symbol("__SNMP-FRAMEWORK-MIB", "snmpEngineBoots")
            counter.syntax = counter.syntax.clone(boots)
        self.engine_id = bytes(self._symbol("__SNMP-FRAMEWORK-MIB", "snmpEngineID").syntax)
        self.users = EngineUsers(self.engine, self.engine_id, devices, engines)
        self._counters = {
            (module, name): self._symbol(module, name)
            for module, names in _REASONS.items()
            for name in names
        }
        # What pysnmp made of the datagram it is reading: a notification's kind.
        self._accepted: str | None = None
        self._source = ("", 0)
        self._transport: Any = None
        boots = int(self._symbol("__SNMP-FRAMEWORK-MIB", "snmpEngineBoots").syntax)
        self._own = (
            OwnPath(self.engine_id, boots, self.users.keys, self._send)
            if settings.own_codec
            else None
        )
        for index, community in enumerate(communities):
            config.add_v1_system(self.engine, f"yunwang-{index}", community)
        self._receiver = ntfrcv.NotificationReceiver(self.engine, self._received)

    def _symbol(self, module: str, name: str) -> Any:
        return self.engine.get_mib_builder().import_symbols(module, name)[0]

    async def start(self) -> tuple[str, int]:
        """Bind and serve on the running loop; returns the bound address."""
        v6 = ":" in self.settings.listen
        transport: Any = _Udp6() if v6 else _Udp()
        transport.receiver = self
        domain = udp6.DOMAIN_NAME if v6 else udp.DOMAIN_NAME
        server = transport.open_server_mode((self.settings.listen, self.settings.port))
        config.add_transport(self.engine, domain, server)
        await server._lport  # the socket is bound once the endpoint exists
        self._transport = server
        _room_for_a_burst(server.transport.get_extra_info("socket"))
        sockname = server.transport.get_extra_info("sockname")
        return str(sockname[0]), int(sockname[1])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._receiver.close(self.engine)
        with contextlib.suppress(Exception):
            self.engine.close_dispatcher()
        if self._transport is not None:
            self._transport.close_transport()
            self._transport = None

    # --- each datagram ----------------------------------------------------------

    def handle(
        self, datagram: bytes, address: tuple[Any, ...], deliver: Callable[[], None]
    ) -> None:
        """Account for one datagram: whatever refuses it, it is counted once."""
        self.stats.datagrams += 1
        try:
            outcome = self._outcome(datagram, (str(address[0]), int(address[1])), deliver)
        except ber.BerError:
            outcome = "malformed"
        except Exception as error:  # one datagram must never stop the receiver
            outcome = "error"
            log.debug("datagram from %s dropped: %r", address[0], error)
        self.stats.record(outcome)

    def _outcome(
        self, datagram: bytes, source: tuple[str, int], deliver: Callable[[], None]
    ) -> str:
        if len(datagram) > MAX_DATAGRAM:
            return "oversized"
        if self._own is not None:
            try:
                taken = self._own.take(datagram, source)
            except wire.Forged:
                return "wrong-digest"
            except wire.Stale:
                return "not-in-time-window"
            if taken == "discovery":
                return taken
            if taken is not None:
                self.stats.fast += 1
                return self._deliver(*taken, source)
        trial = None
        try:
            trial = self.users.try_engine(source[0], datagram)
        except wire.Forged:
            return "wrong-digest"
        except ber.BerError:
            pass  # not SNMP framing: pysnmp says how it refuses it
        before = {key: int(counter.syntax) for key, counter in self._counters.items()}
        self._accepted, self._source = None, source
        try:
            deliver()
        finally:
            if trial is not None:
                self.users.settle(trial, self._accepted is not None)
                self.stats.engines_learned = self.users.engines_learned
        if self._accepted is not None:
            return self._accepted
        if wire.is_discovery(datagram):
            return "discovery"  # pysnmp answered it (our codec did not read it)
        for key, counter in self._counters.items():
            if int(counter.syntax) > before[key]:
                return _REASONS[key[0]][key[1]]
        return "other"

    def _send(self, datagram: bytes, to: tuple[str, int]) -> None:
        if self._transport is not None and self._transport.transport is not None:
            self._transport.transport.sendto(datagram, to)

    def _deliver(
        self, message: usm.V3Message, engine_id: bytes, user: str, source: tuple[str, int]
    ) -> str:
        values = [(oid, value) for oid, _tag, value in message.varbinds]
        confirmed = message.pdu_type == ber.PDU_INFORM
        trap_oid = next((v for o, v in values if o == SNMP_TRAP_OID), ())
        uptime = next((v for o, v in values if o == SYS_UPTIME), None)
        self._notify(
            Notification(
                at=datetime.now(UTC),
                received=time.monotonic(),
                source=source[0],
                port=source[1],
                version="v3",
                confirmed=confirmed,
                engine_id=engine_id,
                user=user,
                trap_oid=trap_oid if isinstance(trap_oid, tuple) else (),
                uptime=uptime if isinstance(uptime, int) else None,
                varbinds=values,
            )
        )
        return "inform" if confirmed else "trap"

    def _notify(self, notification: Notification) -> None:
        try:
            self.on_notification(notification)
        except Exception:  # our own bug must not cost the next notification
            log.exception("handling a notification from %s failed", notification.source)

    def _received(
        self,
        snmp_engine: Any,
        state_reference: Any,
        context_engine_id: Any,
        context_name: Any,
        varbinds: Any,
        cb_ctx: Any,
    ) -> None:
        """pysnmp's callback: the datagram being read is an authentic notification."""
        info = snmp_engine.message_dispatcher.get_transport_info(state_reference)
        source, port = self._source
        if info and info[1]:
            source, port = str(info[1][0]), int(info[1][1])
        exec_context = snmp_engine.observer.get_execution_context("rfc3412.receiveMessage:request")
        pdu = exec_context.get("pdu")
        confirmed = pdu is not None and pdu.tagSet == v2c.InformRequestPDU.tagSet
        model = exec_context.get("securityModel", 3)
        values = [(tuple(int(x) for x in oid), _plain(value)) for oid, value in varbinds]
        trap_oid = next((v for o, v in values if o == SNMP_TRAP_OID), ())
        uptime = next((v for o, v in values if o == SYS_UPTIME), None)
        self._accepted = "inform" if confirmed else "trap"
        self._notify(
            Notification(
                at=datetime.now(UTC),
                received=time.monotonic(),
                source=source,
                port=port,
                version="v3" if model == 3 else "v2c",
                confirmed=confirmed,
                engine_id=bytes(context_engine_id),
                user=str(exec_context.get("securityName", "")),
                trap_oid=trap_oid if isinstance(trap_oid, tuple) else (),
                uptime=uptime if isinstance(uptime, int) else None,
                varbinds=values,
            )
        )


class _Accounting:
    """pysnmp's UDP transport, with every datagram accounted for and bounded."""

    receiver: TrapReceiver
    _callback_function: Any

    def datagram_received(self, datagram: bytes, address: Any) -> None:
        callback = self._callback_function

        def deliver() -> None:
            if callback is not None:  # None once pysnmp's dispatcher is closing
                callback(self, address, datagram)

        self.receiver.handle(datagram, address, deliver)


class _Udp(_Accounting, udp.UdpAsyncioTransport):  # type: ignore[misc]
    pass


class _Udp6(_Accounting, udp6.Udp6AsyncioTransport):  # type: ignore[misc]
    pass


def _room_for_a_burst(sock: Any) -> None:
    """A city's devices rebooting at once send thousands of notifications
    in a second: the kernel must hold them while we work through them. As
    root the buffer can exceed net.core.rmem_max (SO_RCVBUFFORCE)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, RECEIVE_BUFFER)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)


def _plain(value: Any) -> Any:
    """pysnmp's value objects as ints, bytes or OID tuples."""
    if isinstance(value, univ.ObjectIdentifier):
        return tuple(int(x) for x in value)
    if isinstance(value, univ.Integer):
        return int(value)
    if isinstance(value, univ.OctetString):
        return bytes(value)
    if isinstance(value, univ.Null):
        return None
    return value.prettyPrint()
