"""The SNMPv3 users the simulator serves: the estate's own credentials.

Keys stay references in the estate. For a newcomer with nothing set, the
simulator serves demo keys for the environment variables that are not set
(and says which); it hands the same mapping to the poller explicitly
(`SimulatedEstate.demo_keys`), never through the process environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from estate import Estate
from estate.schema import SnmpCredential
from estate.secrets import SecretMissing, SecretRef, resolve_snmp
from monitors.sim.errors import SimError

# estate protocol names -> snmpsim's option values.
AUTH = {
    "sha": "SHA",
    "sha224": "SHA224",
    "sha256": "SHA256",
    "sha384": "SHA384",
    "sha512": "SHA512",
}
PRIV = {"aes128": "AES", "aes192": "AES192", "aes256": "AES256"}
DEMO_KEYS = {"auth": "yunwang-demo-auth-key", "priv": "yunwang-demo-priv-key"}


@dataclass(frozen=True)
class SimCredential:
    """A resolved SNMPv3 user; keys never appear in repr."""

    name: str
    user: str
    auth_protocol: str
    auth_key: str = field(repr=False)
    priv_protocol: str
    priv_key: str = field(repr=False)

    def snmpsim_args(self) -> list[str]:
        return [
            f"--v3-user={self.user}",
            f"--v3-auth-key={self.auth_key}",
            f"--v3-auth-proto={AUTH[self.auth_protocol]}",
            f"--v3-priv-key={self.priv_key}",
            f"--v3-priv-proto={PRIV[self.priv_protocol]}",
        ]


def demo_keys(estate: Estate, names: set[str]) -> dict[str, str]:
    """Environment variable -> demo key, for the v3 keys of `names` that
    reference a variable that is not set."""
    demo: dict[str, str] = {}
    for name in sorted(names):
        spec = estate.credential(name)
        for what, ref in (("auth", spec.auth_key), ("priv", spec.priv_key)):
            if ref is not None and ref.env is not None and ref.env not in os.environ:
                demo.setdefault(ref.env, DEMO_KEYS[what])
    return demo


def _usable(name: str, what: str, ref: SecretRef | None, value: str) -> str:
    # USM needs 8+ characters; snmpsim reads its options split on whitespace.
    if len(value) < 8 or any(c.isspace() for c in value):
        where = ref.describe() if ref is not None else "?"
        raise SimError(
            f"credential {name!r}: {what}_key ({where}) must be at least "
            "8 characters without whitespace"
        )
    return value


def resolve(estate: Estate, names: set[str], demo: Mapping[str, str]) -> dict[str, SimCredential]:
    """Credential name -> resolved v3 user, for the credentials the simulated
    devices use; `demo` fills environment variables that are not set."""
    resolved: dict[str, SimCredential] = {}
    users: dict[str, str] = {}
    for name in sorted(names):
        spec: SnmpCredential = estate.credential(name)
        if spec.version != 3 or spec.user is None:
            raise SimError(
                f"credential {name!r}: simulated devices speak SNMPv3 authPriv only "
                f"(found version {spec.version})"
            )
        if spec.user in users:
            raise SimError(
                f"credentials {users[spec.user]!r} and {name!r} share the user "
                f"{spec.user!r}: one simulator serves one key set per user"
            )
        users[spec.user] = name
        try:
            keys = resolve_snmp(spec, demo)
        except SecretMissing as missing:
            raise SimError(f"credential {name!r}: {missing}") from None
        resolved[name] = SimCredential(
            name=name,
            user=spec.user,
            auth_protocol=spec.auth_protocol,
            auth_key=_usable(name, "auth", spec.auth_key, keys.auth_key),
            priv_protocol=spec.priv_protocol,
            priv_key=_usable(name, "priv", spec.priv_key, keys.priv_key),
        )
    return resolved
