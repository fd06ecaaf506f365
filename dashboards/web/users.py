"""Who may use the web view, and as what: users and roles in one JSON file.

Roles follow 三员分立 (separation of the three administrators in MLPS 2.0):
the operator (安全员) acknowledges and resolves warnings, the auditor (审计员)
reads the audit trail, the admin (系统管理员) manages users. No role holds
another's power. Passwords are kept as argon2id hashes (RFC 9106 defaults of
argon2-cffi), never in plain; the file is written 0600.

The first start with no users file creates one admin with a random password
written once to `first-login.txt` beside it, so a newcomer can log in
without a plain default password existing anywhere.
"""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

Role = Literal["admin", "operator", "auditor"]
ROLES: tuple[Role, ...] = ("admin", "operator", "auditor")
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # bounds the hashing work one request can ask for
MAX_USERS = 1000
_HASHER = PasswordHasher()


class UserError(Exception):
    """A bad users file or request (one line)."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role


class Users:
    def __init__(self, path: Path, hasher: PasswordHasher = _HASHER) -> None:
        self.path = path
        # Verifying uses the parameters stored in each hash, whatever `hasher` is.
        self.hasher = hasher
        self._hashes: dict[str, tuple[Role, str]] = {}
        # Two admins saving at once must not interleave their writes of the file.
        self._lock = threading.Lock()
        if path.exists():
            self._load()

    def __len__(self) -> int:
        return len(self._hashes)

    def list(self) -> list[User]:
        return [User(n, r) for n, (r, _) in sorted(self._hashes.items())]

    def verify(self, name: str, password: str) -> User | None:
        if len(password) > MAX_PASSWORD or len(name) > 64:
            return None
        role, digest = self._hashes.get(name, ("auditor", _dummy()))
        try:
            self.hasher.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return None
        return User(name, role) if name in self._hashes else None

    def set(self, name: str, role: str, password: str) -> User:
        if not NAME.match(name):
            raise UserError(f"user name {name[:64]!r}: expected 1-64 of A-Z a-z 0-9 _ . -")
        checked = _role(role, f"user {name}: role")
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise UserError(
                f"user {name}: password must be {MIN_PASSWORD}-{MAX_PASSWORD} characters"
            )
        digest = self.hasher.hash(password)
        with self._lock:
            if name not in self._hashes and len(self._hashes) >= MAX_USERS:
                raise UserError(f"{self.path}: at most {MAX_USERS} users")
            if checked != "admin" and self._admins() == {name}:
                raise UserError(f"user {name}: the last admin keeps the admin role")
            self._hashes[name] = (checked, digest)
            self._save()
        return User(name, checked)

    def remove(self, name: str) -> None:
        with self._lock:
            if name not in self._hashes:
                raise UserError(f"no user named {name[:64]!r}")
            if self._admins() == {name}:
                raise UserError(f"user {name}: the last admin cannot be removed")
            del self._hashes[name]
            self._save()

    def ensure_first_admin(self) -> Path | None:
        """With no users at all: create `admin` and write its password to a 0600 file."""
        if self._hashes:
            return None
        password = secrets.token_urlsafe(18)
        self.set("admin", "admin", password)
        hint = self.path.with_name("first-login.txt")
        _write_private(hint, f"user: admin\npassword: {password}\n")
        return hint

    def _admins(self) -> frozenset[str]:
        return frozenset(n for n, (r, _) in self._hashes.items() if r == "admin")

    def _load(self) -> None:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"{self.path}: not a readable JSON users file ({exc})") from None
        users = doc.get("users") if isinstance(doc, dict) else None
        if not isinstance(users, dict):
            raise UserError(f"{self.path}: users: expected a mapping of name to {{role, hash}}")
        for name, entry in users.items():
            where = f"{self.path}: users.{name}"
            if not isinstance(entry, dict) or not isinstance(entry.get("hash"), str):
                raise UserError(f"{where}: expected {{role, hash}}")
            if not entry["hash"].startswith("$argon2"):
                raise UserError(f"{where}.hash: expected an argon2 hash, never a plain password")
            self._hashes[str(name)] = (_role(entry.get("role"), f"{where}.role"), entry["hash"])

    def _save(self) -> None:
        doc = {"users": {n: {"role": r, "hash": h} for n, (r, h) in sorted(self._hashes.items())}}
        _write_private(self.path, json.dumps(doc, indent=2) + "\n")


@functools.cache
def _dummy() -> str:
    """Verified against when the user does not exist, so a wrong name costs as
    long as a wrong password and names cannot be probed by timing."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def _role(value: object, where: str) -> Role:
    for role in ROLES:
        if value == role:
            return role
    raise UserError(f"{where}: expected one of {', '.join(ROLES)}, got {value!r}")


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
