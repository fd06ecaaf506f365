"""The receiver's SNMPv3 users: which (engine id, user) keys it holds.

Informs are sent to our own engine: every estate v3 credential is a user
there from the start. A v3 *trap* is authenticated with keys localised to
the sender's engine id, which no estate declares: it is learnt from the
first trap a known device address sends (at most `ENGINES_PER_DEVICE` per
device, newest kept), and only if that trap's HMAC verifies under those
keys; an engine id the estate declares for a device is a user from the
start. Addresses outside the estate teach nothing, so a stranger's trap
fails USM as an unknown user.

One table, two readers: pysnmp's engine (its USM user table, for what
pysnmp decodes) and `keys`, which yunwang's own path (ownpath.py) reads.
"""

from __future__ import annotations

from typing import Any

from pysnmp.entity import config  # type: ignore[import-untyped]
from pysnmp.proto.api import v2c  # type: ignore[import-untyped]

from monitors.snmp import usm
from monitors.snmp.session import Credential
from monitors.traps import wire

ENGINES_PER_DEVICE = 2  # an agent re-keyed (new engine id) and its predecessor
Trial = tuple[str, Credential, bytes]  # device, credential, engine id on probation


class EngineUsers:
    """`devices` maps a sender address to the estate device and its credential."""

    def __init__(
        self,
        engine: Any,
        engine_id: bytes,
        devices: dict[str, tuple[str, Credential]],
        declared: dict[str, bytes] | None = None,
    ) -> None:
        """`declared`: sender address -> the device's engine id from the estate."""
        self.engine = engine  # pysnmp's SnmpEngine
        self.engine_id = engine_id  # ours
        self.devices = devices
        self.engines_learned = 0
        # Localised keys by (engine id, user): what pysnmp holds, for our codec.
        self.keys: dict[tuple[bytes, str], list[usm.LocalKeys]] = {}
        self._learned: dict[str, list[bytes]] = {}  # device -> engine ids, oldest first
        for credential in {c for _device, c in devices.values() if c.version == 3}:
            self._add(credential, engine_id)  # informs: we are authoritative
        for address, device_engine in (declared or {}).items():
            known = devices.get(address)
            if known is not None and known[1].version == 3 and device_engine != engine_id:
                if (device_engine, known[1].user) not in self.keys:
                    self._add(known[1], device_engine)  # its traps: no learning needed

    def _add(self, credential: Credential, engine_id: bytes) -> None:
        assert credential.user
        keys = credential.localise(engine_id)
        config.add_v3_user(
            self.engine,
            credential.user,
            keys.auth.oid,
            keys.auth_key,
            usm.priv_service_id(credential.priv_protocol),
            keys.priv_key,
            securityEngineId=v2c.OctetString(engine_id),
            authKeyType=config.USM_KEY_TYPE_LOCALIZED,
            privKeyType=config.USM_KEY_TYPE_LOCALIZED,
        )
        self.keys.setdefault((engine_id, credential.user), []).append(keys)

    def try_engine(self, source: str, datagram: bytes) -> Trial | None:
        """A v3 trap from an estate device's address, from an engine id not
        yet known: its keys localised to that engine id must verify the
        trap's HMAC before pysnmp is told of the engine (which is slow:
        ~50 ms a user), so a forgery costs one HMAC. The trial is settled
        once pysnmp has read the trap. Raises wire.Forged, ber.BerError."""
        known = self.devices.get(source)
        if known is None:
            return None
        device, credential = known
        if credential.version != 3 or credential.user is None:
            return None
        head = usm.peek_header(datagram)
        if head is None:
            return None  # v1/v2c
        engine_id = head.engine_id
        if not 5 <= len(engine_id) <= 32 or engine_id == self.engine_id:
            return None
        if (engine_id, credential.user) in self.keys:
            return None
        keys = credential.localise(engine_id)
        if not usm.authentic(datagram, head, keys):
            raise wire.Forged
        self._add(credential, engine_id)
        return device, credential, engine_id

    def settle(self, trial: Trial, authentic: bool) -> None:
        """Keep the engine id if pysnmp accepted the trap, else forget it."""
        device, credential, engine_id = trial
        if not authentic:
            self._drop(credential, engine_id)
            return
        learned = self._learned.setdefault(device, [])
        learned.append(engine_id)
        self.engines_learned += 1
        while len(learned) > ENGINES_PER_DEVICE:
            old = learned.pop(0)
            if not any(old in others for others in self._learned.values()):
                self._drop(credential, old)

    def _drop(self, credential: Credential, engine_id: bytes) -> None:
        assert credential.user is not None
        config.delete_v3_user(
            self.engine, credential.user, securityEngineId=v2c.OctetString(engine_id)
        )
        self.keys.pop((engine_id, credential.user), None)
