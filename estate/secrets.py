"""Secrets by reference: the estate names where a secret lives, never the secret."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, model_validator

if TYPE_CHECKING:
    from estate.schema import SnmpCredential


class SecretMissing(Exception):
    """A referenced secret is not where the estate says it is (one-line message)."""


class SecretRef(BaseModel):
    """`{env: NAME}` or `{file: PATH}`; exactly one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    file: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _reject_inline(cls, value: Any) -> Any:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            raise ValueError(
                "secrets must be references like {env: NAME} or {file: PATH}, "
                "found an inline value (remove it from the file and rotate it)"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("expected exactly one of env or file")
        if self.env is not None and not self.env.strip():
            raise ValueError("env: expected an environment variable name, found an empty one")
        if self.file is not None and not self.file.strip():
            raise ValueError("file: expected a file path, found an empty one")
        return self

    def describe(self) -> str:
        return f"env:{self.env}" if self.env is not None else f"file:{self.file}"

    def resolve(self, defaults: Mapping[str, str] | None = None) -> str:
        """The secret; an environment variable that is not set falls back to
        `defaults` (demo or test keys handed over explicitly, never written
        into the process environment)."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None and defaults is not None:
                value = defaults.get(self.env)
            if value is None:
                raise SecretMissing(f"environment variable {self.env} is not set")
            return value
        assert self.file is not None
        try:
            return Path(self.file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretMissing(f"cannot read secret file {self.file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise SecretMissing(
                f"secret file {self.file}: expected UTF-8 text, found binary data"
            ) from None


@dataclass(frozen=True)
class SnmpKeys:
    """An SNMP credential with its secrets read; secrets never appear in repr."""

    version: int
    user: str | None = None
    auth_protocol: str = "sha256"
    auth_key: str = field(default="", repr=False)
    priv_protocol: str = "aes128"
    priv_key: str = field(default="", repr=False)
    community: str = field(default="", repr=False)


def resolve_snmp(credential: SnmpCredential, defaults: Mapping[str, str] | None = None) -> SnmpKeys:
    """The one way any room reads an estate SNMP credential's secrets (the
    poller, the simulator, the lab's snmpd). SecretMissing names the key."""
    if credential.version == 2:
        assert credential.community is not None  # the schema guarantees it
        try:
            return SnmpKeys(2, community=credential.community.resolve(defaults))
        except SecretMissing as missing:
            raise SecretMissing(f"community: {missing}") from None
    assert credential.auth_key is not None and credential.priv_key is not None
    keys = {}
    for what, ref in (("auth_key", credential.auth_key), ("priv_key", credential.priv_key)):
        try:
            keys[what] = ref.resolve(defaults)
        except SecretMissing as missing:
            raise SecretMissing(f"{what}: {missing}") from None
    return SnmpKeys(
        3,
        user=credential.user,
        auth_protocol=credential.auth_protocol,
        auth_key=keys["auth_key"],
        priv_protocol=credential.priv_protocol,
        priv_key=keys["priv_key"],
    )
