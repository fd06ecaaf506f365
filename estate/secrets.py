"""Secrets by reference: the estate names where a secret lives, never the secret."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


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
        return self

    def describe(self) -> str:
        return f"env:{self.env}" if self.env is not None else f"file:{self.file}"

    def resolve(self) -> str:
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise SecretMissing(f"environment variable {self.env} is not set")
            return value
        assert self.file is not None
        try:
            return Path(self.file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretMissing(f"cannot read secret file {self.file}: {exc.strerror}") from None
