"""The audit trail's key: where it comes from, how it is made, how it is named.

A reference in $YUNWANG_AUDIT_KEY (`{env: NAME}` or `{file: PATH}`), else
`audit.key` beside the trail, generated on the first append. Either way a
key shorter than 16 characters is refused: with it anyone could forge
records (security/audit.py keeps the chain the key signs).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import tempfile
from pathlib import Path

from estate.home import yunwang_home
from security.durable import fsync_dir

KEY_ENV = "YUNWANG_AUDIT_KEY"
_REFERENCE = re.compile(r"^(env|file)\s*:(.*)$", re.DOTALL)
# The shortest key accepted, from the environment or from a key file alike: an
# empty or short key lets anyone who guesses it forge records.
MIN_KEY_LENGTH = 16


class AuditError(Exception):
    """The trail cannot be written or read as asked; str() is one line."""


def audit_key(create: bool = True, directory: Path | None = None) -> bytes:
    """The chain's key: the reference in $YUNWANG_AUDIT_KEY, else `audit.key` in the
    trail's directory (`directory`, by default $YUNWANG_HOME).

    The default key file is generated on the first append (`create`); a
    reader never makes one up, or it would call every record forged.
    """
    from estate.secrets import SecretMissing, SecretRef

    reference = os.environ.get(KEY_ENV)
    if reference:
        kind, name = _parse_reference(reference)
        try:
            value = SecretRef(**{kind: name}).resolve()
        except SecretMissing as exc:
            raise AuditError(f"{KEY_ENV}: {exc}") from None
        if len(value) < MIN_KEY_LENGTH:
            raise AuditError(
                f"{KEY_ENV}: the key is shorter than {MIN_KEY_LENGTH} characters"
                " (anyone could forge records with it)"
            )
        return value.encode()
    return _default_key((directory or yunwang_home()) / "audit.key", create)


def _parse_reference(reference: str) -> tuple[str, str]:
    """`{env: NAME}` or `{file: PATH}` (braces optional) as (kind, name); AuditError otherwise."""
    expected = "expected {env: NAME} or {file: PATH}"
    text = reference.strip()
    if text.startswith("{") != text.endswith("}"):
        raise AuditError(f"{KEY_ENV}: unbalanced braces; {expected}")
    if text.startswith("{"):
        text = text[1:-1].strip()
    match = _REFERENCE.match(text)
    if match is None:
        raise AuditError(f"{KEY_ENV}: {expected}")
    kind, name = match.group(1), match.group(2).strip()
    if not name:
        what = "variable name" if kind == "env" else "file path"
        raise AuditError(f"{KEY_ENV}: {kind}: the {what} is empty; {expected}")
    return kind, name


def _default_key(path: Path, create: bool) -> bytes:
    if not create and not path.exists():
        raise AuditError(
            f"{path}: no audit key here and {KEY_ENV} is not set: cannot check the MACs"
        )
    if create and not path.exists():
        _create_key(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AuditError(f"{path}: cannot read the audit key ({exc.strerror})") from None
    try:
        key = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise AuditError(
            f"{path}: expected the audit key as UTF-8 text, found binary data"
        ) from None
    if len(key) < MIN_KEY_LENGTH:
        found = "an empty key" if not key else f"{len(key)} characters"
        raise AuditError(
            f"{path}: expected an audit key of at least {MIN_KEY_LENGTH} characters, found "
            f"{found} (anyone could forge records with it; or set {KEY_ENV})"
        )
    return key.encode()


def _create_key(path: Path) -> None:
    """A new random key (64 hex characters), 0600, that appears whole or not at all:
    written to a private temporary file and linked into place, so a concurrent
    reader never sees an empty key file and a concurrent creator's key wins intact."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".audit.key.", dir=path.parent)
    except OSError as exc:
        raise AuditError(f"{path}: cannot create the audit key ({exc.strerror})") from None
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return  # another process made it first: use theirs
        fsync_dir(path.parent)
    except OSError as exc:
        raise AuditError(f"{path}: cannot create the audit key ({exc.strerror})") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def key_id(key: bytes) -> str:
    """Names the key in each record (not the key: a hash of it) so verify can say which."""
    return hashlib.sha256(b"yunwang-audit-key-id:" + key).hexdigest()[:16]
