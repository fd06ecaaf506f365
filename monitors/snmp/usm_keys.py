"""SNMPv3 USM keys (RFC 3414, 3826, 7860): the auth algorithms, and the
password-to-localised-key maths done by pysnmp's own services (Ku -> Kul,
with the Reeder extension for AES-256). Kept apart from usm.py's per-packet
framing: localisation runs once per credential and engine, never per packet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any


@dataclass(frozen=True)
class AuthAlgorithm:
    name: str
    oid: tuple[int, ...]  # usmHMACSHAAuthProtocol, usmHMAC192SHA256AuthProtocol
    digest: Callable[[], Any]
    mac_length: int


AUTH = {
    "sha": AuthAlgorithm("sha", (1, 3, 6, 1, 6, 3, 10, 1, 1, 3), hashlib.sha1, 12),
    "sha256": AuthAlgorithm("sha256", (1, 3, 6, 1, 6, 3, 10, 1, 1, 5), hashlib.sha256, 24),
}


@cache
def _services() -> tuple[dict[str, Any], dict[str, Any]]:
    """pysnmp's key services, imported on first use: per-packet work needs
    none of pysnmp, so a process that only seals and opens messages (the
    simulator's responders) never loads it."""
    # pysnmp's security modules import each other in a circle; its config
    # module loads them in an order that works, so it comes first.
    from pysnmp.entity import config as _pysnmp_config  # type: ignore[import-untyped]  # noqa: F401
    from pysnmp.proto.secmod.eso.priv import aes256  # type: ignore[import-untyped]
    from pysnmp.proto.secmod.rfc3414.auth import hmacsha  # type: ignore[import-untyped]
    from pysnmp.proto.secmod.rfc3826.priv import aes  # type: ignore[import-untyped]
    from pysnmp.proto.secmod.rfc7860.auth import hmacsha2  # type: ignore[import-untyped]

    auth = {
        "sha": hmacsha.HmacSha(),
        "sha256": hmacsha2.HmacSha2(hmacsha2.HmacSha2.SHA256_SERVICE_ID),
    }
    return auth, {"aes128": aes.Aes(), "aes256": aes256.Aes256()}


def priv_service_id(priv_protocol: str) -> Any:
    """pysnmp's id of a privacy protocol (for a pysnmp engine's v3 user table)."""
    return _services()[1][priv_protocol].SERVICE_ID


@dataclass(frozen=True)
class LocalKeys:
    auth: AuthAlgorithm
    auth_key: bytes
    priv_key: bytes


@lru_cache(maxsize=256)
def _hashed(
    auth_protocol: str, priv_protocol: str, auth_pass: str, priv_pass: str
) -> tuple[Any, Any]:
    """Ku for both keys: the 1 MB password hashing, done once per credential."""
    auth, priv = _services()
    return (
        auth[auth_protocol].hash_passphrase(auth_pass),
        priv[priv_protocol].hash_passphrase(AUTH[auth_protocol].oid, priv_pass),
    )


def localise(
    auth_protocol: str, priv_protocol: str, auth_pass: str, priv_pass: str, engine_id: bytes
) -> LocalKeys:
    from pyasn1.type import univ  # type: ignore[import-untyped]

    algorithm = AUTH[auth_protocol]
    auth, priv = _services()
    auth_ku, priv_ku = _hashed(auth_protocol, priv_protocol, auth_pass, priv_pass)
    engine = univ.OctetString(engine_id)  # pysnmp's services take pyasn1 values
    auth_key = univ.OctetString(auth[auth_protocol].localize_key(auth_ku, engine)).asOctets()
    priv_key = univ.OctetString(
        priv[priv_protocol].localize_key(algorithm.oid, priv_ku, engine)
    ).asOctets()
    return LocalKeys(algorithm, auth_key, priv_key)
