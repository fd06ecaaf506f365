"""A minimal pysnmp client for the simulator's own readiness check.

The poller (monitors/snmp) is the real client; this only asks one device
for sysUpTime with the estate's v3 credential, from a worker thread so the
caller may already be inside an event loop.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pysnmp.hlapi.v3arch import asyncio as hl  # type: ignore[import-untyped]

from monitors.sim.credentials import SimCredential

AUTH = {
    "sha": hl.USM_AUTH_HMAC96_SHA,
    "sha224": hl.USM_AUTH_HMAC128_SHA224,
    "sha256": hl.USM_AUTH_HMAC192_SHA256,
    "sha384": hl.USM_AUTH_HMAC256_SHA384,
    "sha512": hl.USM_AUTH_HMAC384_SHA512,
}
PRIV = {
    "aes128": hl.USM_PRIV_CFB128_AES,
    "aes192": hl.USM_PRIV_CFB192_AES,
    "aes256": hl.USM_PRIV_CFB256_AES,
}
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"


def user_data(credential: SimCredential) -> Any:
    return hl.UsmUserData(
        credential.user,
        authKey=credential.auth_key,
        privKey=credential.priv_key,
        authProtocol=AUTH[credential.auth_protocol],
        privProtocol=PRIV[credential.priv_protocol],
    )


async def get(
    host: str, port: int, credential: SimCredential, context: str, oids: list[str],
    timeout_s: float = 1.0, retries: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """OID -> value for one v3 GET; raises RuntimeError on any SNMP error."""
    engine = hl.SnmpEngine()
    try:
        transport = hl.Udp6TransportTarget if ":" in host else hl.UdpTransportTarget
        target = await transport.create((host, port), timeout=timeout_s, retries=retries)
        error, status, _index, binds = await hl.get_cmd(
            engine,
            user_data(credential),
            target,
            hl.ContextData(contextName=context),
            *(hl.ObjectType(hl.ObjectIdentity(oid)) for oid in oids),
            lookupMib=False,
        )
    finally:
        engine.close_dispatcher()
    if error or status:
        raise RuntimeError(str(error or status.prettyPrint()))
    return {str(name): value for name, value in binds}


def answers(host: str, port: int, credential: SimCredential, context: str) -> bool:
    """Whether the agent answers a v3 GET for sysUpTime in `context` now."""
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(asyncio.run, get(host, port, credential, context, [SYS_UPTIME]))
        try:
            future.result()
        except (RuntimeError, OSError):
            return False
    return True
