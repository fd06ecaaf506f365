"""SNMPv3 through pysnmp's own engine: the reference implementation.

`PollerSettings(v3_engine="pysnmp")` selects it; the differential tests use
`from_pysnmp` to read pysnmp's values as plain ones. One `SnmpEngine` per
process (per event loop, see `engine`), `lookupMib=False`.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from typing import Any

from pyasn1.type import univ  # type: ignore[import-untyped]
from pysnmp.hlapi.v3arch import asyncio as hl  # type: ignore[import-untyped]
from pysnmp.proto import errind, rfc1905  # type: ignore[import-untyped]

from monitors.snmp import ber
from monitors.snmp.errors import (
    SnmpAgentError,
    SnmpAuthError,
    SnmpError,
    SnmpMalformed,
    SnmpTimeout,
)
from monitors.snmp.session import RetryPolicy, Target, check_v3

_AUTH = {"sha": hl.USM_AUTH_HMAC96_SHA, "sha256": hl.USM_AUTH_HMAC192_SHA256}
# net-snmp, Cisco and Huawei derive the AES-256 key the "Reeder" way (pysnmp's
# plain CFB256); the Blumenthal variant is rarer.
_PRIV = {"aes128": hl.USM_PRIV_CFB128_AES, "aes256": hl.USM_PRIV_CFB256_AES}

# pysnmp error indications that mean "your credentials are wrong".
_AUTH_INDICATIONS = (
    errind.WrongDigest,
    errind.DecryptionError,
    errind.UnknownUserName,
    errind.UnknownSecurityName,
    errind.UnsupportedSecurityLevel,
    errind.NotInTimeWindow,
    errind.UnknownEngineID,
    errind.AuthenticationError,
    errind.AuthenticationFailure,
    errind.NoAuthentication,
)


_engines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()


def engine() -> Any:
    """The process's one SNMP engine (pysnmp keeps USM and engine-id caches in
    it). pysnmp binds an engine's sockets to the running loop, so a process
    that runs several loops one after another (tests) gets one per loop."""
    loop = asyncio.get_running_loop()
    found = _engines.get(loop)
    if found is None:
        found = _engines[loop] = hl.SnmpEngine()
    return found


def from_pysnmp(value: Any) -> tuple[int, ber.Value]:
    """A pysnmp value as (wire tag, plain value): the differential tests'
    reference and the v3 path's converter."""
    tag = value.tagSet[-1]
    tag_byte = int(tag.tagClass) | int(tag.tagFormat) | int(tag.tagId)
    if isinstance(value, rfc1905.NoSuchObject):
        return tag_byte, ber.NO_SUCH_OBJECT
    if isinstance(value, rfc1905.NoSuchInstance):
        return tag_byte, ber.NO_SUCH_INSTANCE
    if isinstance(value, rfc1905.EndOfMibView):
        return tag_byte, ber.END_OF_MIB_VIEW
    if isinstance(value, univ.ObjectIdentifier):
        return tag_byte, tuple(value)
    if isinstance(value, univ.Integer):
        return tag_byte, int(value)
    if isinstance(value, univ.Null):  # before OctetString: pyasn1's Null subclasses it
        return tag_byte, None
    if isinstance(value, univ.OctetString):
        return tag_byte, value.asOctets()
    raise SnmpMalformed(f"unexpected value type {type(value).__name__}")


@dataclass
class V3Session:
    target: Target
    policy: RetryPolicy
    attempts: int = 0
    requests: int = 0
    _transport: Any = None

    def __post_init__(self) -> None:
        credential = self.target.credential
        check_v3(self.target)
        self._auth = hl.UsmUserData(
            credential.user,
            authKey=credential.auth_key,
            privKey=credential.priv_key,
            authProtocol=_AUTH[credential.auth_protocol],
            privProtocol=_PRIV[credential.priv_protocol],
        )
        self._context = hl.ContextData(contextName=credential.context)

    async def _target(self) -> Any:
        if self._transport is None:
            cls = hl.Udp6TransportTarget if ":" in self.target.host else hl.UdpTransportTarget
            # pysnmp retries with a fixed timeout; we add our backoff around it.
            self._transport = await cls.create(
                (self.target.host, self.target.port), timeout=self.policy.timeout, retries=0
            )
        return self._transport

    async def _run(self, command: Any, *args: Any) -> list[ber.VarBind]:
        transport = await self._target()
        self.requests += 1
        wait = self.policy.timeout
        for _attempt in range(self.policy.retries + 1):
            self.attempts += 1
            transport.timeout = wait
            indication, status, index, binds = await command(
                engine(), self._auth, transport, self._context, *args, lookupMib=False
            )
            if indication is None:
                if int(status):
                    raise SnmpAgentError(
                        f"{self.target.name}: error-status {status.prettyPrint()} at {int(index)}"
                    )
                return [(tuple(name), *from_pysnmp(value)) for name, value in binds]
            if isinstance(indication, _AUTH_INDICATIONS):
                raise SnmpAuthError(
                    f"{self.target.name}: SNMPv3 authentication failed for user "
                    f"{self.target.credential.user!r} ({indication})"
                )
            if not isinstance(indication, errind.RequestTimedOut):
                raise SnmpError(f"{self.target.name}: {indication}")
            wait *= self.policy.backoff
        raise SnmpTimeout(f"no answer from {self.target.host} after {self.policy.retries + 1}")

    async def get(self, oids: list[ber.Oid]) -> list[ber.VarBind]:
        return await self._run(hl.get_cmd, *(hl.ObjectType(hl.ObjectIdentity(o)) for o in oids))

    async def bulk(self, oids: list[ber.Oid], max_repetitions: int) -> list[ber.VarBind]:
        return await self._run(
            hl.bulk_cmd, 0, max_repetitions, *(hl.ObjectType(hl.ObjectIdentity(o)) for o in oids)
        )
