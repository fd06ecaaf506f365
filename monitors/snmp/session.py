"""Sessions: how one request reaches one device, for v2c and v3.

v2c goes through our own UDP transport and BER decoder; v3 authPriv through
the same transport with the USM codec in `usm` (keys derived by pysnmp), or,
when asked, through pysnmp's own engine (`pysnmp_session`, the reference).
All return the same plain varbinds (`ber.VarBind`), so everything above this
module is version-blind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from monitors.snmp import ber, usm
from monitors.snmp.errors import (
    SnmpAgentError,
    SnmpAuthError,
    SnmpConfigError,
    SnmpError,
    SnmpMalformed,
    SnmpTimeout,
)
from monitors.snmp.transport import Rejected, RequestBuilder, UdpTransport

AuthProtocol = Literal["sha", "sha256"]
PrivProtocol = Literal["aes128", "aes256"]


@dataclass(frozen=True, slots=True)
class Credential:
    """Resolved SNMP credentials; keys never appear in repr or logs."""

    version: Literal[2, 3]
    community: str | None = field(default=None, repr=False)
    user: str | None = None
    auth_protocol: AuthProtocol = "sha"
    auth_key: str | None = field(default=None, repr=False)
    priv_protocol: PrivProtocol = "aes128"
    priv_key: str | None = field(default=None, repr=False)
    context: str = ""

    def localise(self, engine_id: bytes) -> usm.LocalKeys:
        """This v3 user's keys for the engine `engine_id` (RFC 3414 localisation)."""
        assert self.auth_key is not None and self.priv_key is not None
        return usm.localise(
            self.auth_protocol, self.priv_protocol, self.auth_key, self.priv_key, engine_id
        )


@dataclass(frozen=True, slots=True)
class Target:
    """One device as the poller sees it."""

    name: str
    host: str
    credential: Credential
    port: int = 161


class Session(Protocol):
    target: Target
    attempts: int
    requests: int

    async def get(self, oids: list[ber.Oid]) -> list[ber.VarBind]: ...

    async def bulk(self, oids: list[ber.Oid], max_repetitions: int) -> list[ber.VarBind]: ...


@dataclass
class RetryPolicy:
    timeout: float = 2.0
    retries: int = 2
    backoff: float = 2.0


@dataclass
class V2cSession:
    target: Target
    transport: UdpTransport
    policy: RetryPolicy
    attempts: int = 0  # datagrams sent, retries included
    requests: int = 0

    def __post_init__(self) -> None:
        if self.target.credential.community is None:
            raise SnmpConfigError(f"{self.target.name}: v2c credential without a community")
        self._community = self.target.credential.community.encode()
        self._address = (self.target.host, self.target.port)

    def _accept(self, data: bytes, request_id: int) -> ber.Response:
        name = self.target.name
        try:
            response = ber.decode_message(data)
        except ber.BerError as error:
            raise Rejected(SnmpMalformed(f"{name}: malformed answer: {error}")) from None
        if response.pdu_type != ber.PDU_RESPONSE:
            raise Rejected(SnmpMalformed(f"{name}: PDU 0x{response.pdu_type:02x} in answer"))
        if response.community != self._community:
            raise Rejected(SnmpMalformed(f"{name}: answer carries another community"))
        return response

    async def _send(self, build: RequestBuilder) -> list[ber.VarBind]:
        self.requests += 1
        response, attempts = await self.transport.request(
            self._address,
            build,
            self._accept,
            self.policy.timeout,
            self.policy.retries,
            self.policy.backoff,
        )
        self.attempts += attempts
        self.transport.stats.varbinds += len(response.varbinds)
        if response.error_status:
            raise SnmpAgentError(
                f"{self.target.name}: error-status {response.error_status} "
                f"at varbind {response.error_index}"
            )
        return response.varbinds

    async def get(self, oids: list[ber.Oid]) -> list[ber.VarBind]:
        return await self._send(RequestBuilder(self._community, ber.PDU_GET, oids))

    async def bulk(self, oids: list[ber.Oid], max_repetitions: int) -> list[ber.VarBind]:
        return await self._send(
            RequestBuilder(self._community, ber.PDU_GETBULK, oids, max_repetitions)
        )


class Reported(SnmpAuthError):
    """An unauthenticated usmStats Report was all the agent sent back. Anyone
    can forge one, so it is believed only when no real answer came."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class V3FastSession:
    """SNMPv3 authPriv without pyasn1 on the hot path (see `usm`)."""

    target: Target
    transport: UdpTransport
    policy: RetryPolicy
    attempts: int = 0
    requests: int = 0
    _engine: usm.EngineState | None = None
    _keys: usm.LocalKeys | None = None

    def __post_init__(self) -> None:
        credential = self.target.credential
        check_v3(self.target)
        assert credential.user is not None
        self._user = credential.user.encode()
        self._context = credential.context.encode()
        self._address = (self.target.host, self.target.port)

    async def _exchange(
        self, build: Callable[[int], bytes], accept: Callable[[bytes, int], usm.V3Message]
    ) -> usm.V3Message:
        message, attempts = await self.transport.request(
            self._address,
            build,
            accept,
            self.policy.timeout,
            self.policy.retries,
            self.policy.backoff,
        )
        self.attempts += attempts
        return message

    def _open(self, data: bytes) -> usm.V3Message:
        try:
            return usm.decode(data, self._keys)
        except usm.UsmError as error:
            # Agents report credential problems in unauthenticated Reports;
            # an authenticated message that fails its check was corrupted
            # or forged on the way.
            raise Rejected(
                SnmpMalformed(
                    f"{self.target.name}: SNMPv3 answer fails its integrity check ({error})"
                )
            ) from None
        except ber.BerError as error:
            raise Rejected(
                SnmpMalformed(f"{self.target.name}: malformed SNMPv3 answer: {error}")
            ) from None

    def _accept_probe(self, data: bytes, _msg_id: int) -> usm.V3Message:
        message = self._open(data)
        if message.pdu_type != ber.PDU_REPORT or not message.engine_id:
            raise Rejected(
                SnmpMalformed(f"{self.target.name}: discovery answer without an engine id")
            )
        return message

    def _accept(self, data: bytes, msg_id: int) -> usm.V3Message:
        """An authPriv Response to this very request, in the time window, or
        an authenticated Report of the agent's engine (RFC 3414 3.2)."""
        name, message, engine = self.target.name, self._open(data), self._engine
        assert engine is not None
        if message.pdu_type == ber.PDU_REPORT:
            reason = usm.report_reason(message)
            if not message.flags & usm.FLAG_AUTH:
                raise Rejected(
                    Reported(
                        f"{name}: SNMPv3 authentication failed for user "
                        f"{self.target.credential.user!r} ({reason})",
                        reason,
                    )
                )
        elif message.pdu_type != ber.PDU_RESPONSE:
            raise Rejected(SnmpMalformed(f"{name}: PDU 0x{message.pdu_type:02x} in answer"))
        elif message.request_id != msg_id:
            raise Rejected(SnmpMalformed(f"{name}: answer to another request-id"))
        elif not message.flags & usm.FLAG_AUTH or not message.flags & usm.FLAG_PRIV:
            raise Rejected(SnmpMalformed(f"{name}: SNMPv3 response not authPriv"))
        if message.engine_id != engine.engine_id:
            raise Rejected(SnmpMalformed(f"{name}: answer from another SNMP engine"))
        if message.user != self._user:
            raise Rejected(SnmpMalformed(f"{name}: SNMPv3 answer for another user"))
        if message.pdu_type == ber.PDU_RESPONSE and not engine.timely(
            message.boots, message.engine_time
        ):
            raise Rejected(
                SnmpAuthError(
                    f"{name}: SNMPv3 answer outside the time window (replayed, or the "
                    "agent's clock went back)"
                )
            )
        return message

    def _probe(self, msg_id: int) -> bytes:
        return usm.encode(msg_id, ber.encode_pdu(ber.PDU_GET, msg_id, []), b"", None, None)

    async def _discover(self) -> None:
        """RFC 3414 4: learn the agent's engine id; its boots and time only
        seed the first request until an authenticated message confirms them."""
        self.requests += 1
        probe = await self._exchange(self._probe, self._accept_probe)
        self._engine = usm.EngineState(
            probe.engine_id, probe.boots, probe.engine_time, time.monotonic()
        )
        self._keys = self.target.credential.localise(probe.engine_id)

    async def _explain_silence(self) -> None:
        """An agent that answers the unauthenticated discovery probe but not
        our authPriv requests is dropping what it cannot decrypt: net-snmp
        sends no report for a wrong privacy key, it just stays silent."""
        try:
            await self._exchange(self._probe, self._accept_probe)
        except SnmpError:
            return  # silent to the probe too: really unreachable
        raise SnmpAuthError(
            f"{self.target.name}: SNMPv3 authentication failed for user "
            f"{self.target.credential.user!r} (the agent answers discovery but ignores "
            "authPriv requests: wrong privacy key or protocol)"
        )

    async def _send(
        self, pdu_type: int, oids: list[ber.Oid], repetitions: int
    ) -> list[ber.VarBind]:
        self.requests += 1
        if self._engine is None:
            await self._discover()
        for attempt in range(2):
            engine = self._engine
            assert engine is not None
            try:
                message = await self._exchange(
                    lambda msg_id, engine=engine: usm.encode(  # type: ignore[misc]
                        msg_id,
                        ber.encode_pdu(pdu_type, msg_id, oids, 0, repetitions),
                        self._user,
                        engine,
                        self._keys,
                        self._context,
                    ),
                    self._accept,
                )
            except SnmpTimeout:
                await self._explain_silence()
                raise
            except Reported as report:
                if report.reason == "unknownEngineID" and attempt == 0:
                    await self._discover()  # the agent's engine changed
                    continue
                raise
            if message.pdu_type == ber.PDU_REPORT:  # authenticated by the agent's key
                reason = usm.report_reason(message)
                if reason == "notInTimeWindow" and attempt == 0:
                    engine.adopt(message.boots, message.engine_time)  # rebooted, or drift
                    self.requests += 1  # a resend the protocol asks for, not a retry
                    continue
                raise SnmpAuthError(
                    f"{self.target.name}: SNMPv3 authentication failed for user "
                    f"{self.target.credential.user!r} ({reason})"
                )
            if message.error_status:
                raise SnmpAgentError(
                    f"{self.target.name}: error-status {message.error_status} "
                    f"at varbind {message.error_index}"
                )
            return message.varbinds
        raise SnmpAuthError(f"{self.target.name}: SNMPv3 time window could not be synchronised")

    async def get(self, oids: list[ber.Oid]) -> list[ber.VarBind]:
        return await self._send(ber.PDU_GET, oids, 0)

    async def bulk(self, oids: list[ber.Oid], max_repetitions: int) -> list[ber.VarBind]:
        return await self._send(ber.PDU_GETBULK, oids, max_repetitions)


def check_v3(target: Target) -> None:
    credential = target.credential
    if not (credential.user and credential.auth_key and credential.priv_key):
        raise SnmpConfigError(f"{target.name}: v3 needs user, auth_key and priv_key (authPriv)")
    if min(len(credential.auth_key), len(credential.priv_key)) < 8:
        raise SnmpConfigError(
            f"{target.name}: SNMPv3 keys must be at least 8 characters (RFC 3414)"
        )


def open_session(
    target: Target,
    transport: UdpTransport,
    policy: RetryPolicy,
    v3_users: dict[str, Credential] | None = None,
    v3_engine: Literal["fast", "pysnmp"] = "fast",
) -> Session:
    """v3 goes through the fast USM path by default, or through pysnmp's
    engine. `v3_users` (user name -> credential) spans the process for the
    latter: pysnmp's one engine keys USM users by name, so one name with two
    key sets would silently overwrite each other; we refuse the second."""
    credential = target.credential
    if not 0 < target.port < 65536:
        raise SnmpConfigError(f"{target.name}: port {target.port} is not a UDP port (1-65535)")
    if credential.version == 2:
        return V2cSession(target, transport, policy)
    if v3_engine == "fast":
        return V3FastSession(target, transport, policy)
    from monitors.snmp.pysnmp_session import V3Session  # pysnmp's engine: only if asked

    if v3_users is not None and credential.user is not None:
        known = v3_users.setdefault(credential.user, credential)
        if _keys(known) != _keys(credential):
            raise SnmpConfigError(
                f"{target.name}: SNMPv3 user {credential.user!r} is already used with other "
                "keys in this collector; give each key set its own user name"
            )
    return V3Session(target, policy)


def _keys(credential: Credential) -> tuple[str | None, ...]:
    return (
        credential.auth_protocol,
        credential.auth_key,
        credential.priv_protocol,
        credential.priv_key,
    )


async def close_all(transport: UdpTransport) -> None:
    transport.close()
    await asyncio.sleep(0)
