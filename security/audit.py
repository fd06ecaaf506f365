"""A tamper-evident trail of every action the platform takes.

Each record carries the HMAC of the one before it, keyed with a secret given
by reference (`YUNWANG_AUDIT_KEY={env: NAME}` or `{file: PATH}`; by default
a 0600 key file generated beside the trail, in $YUNWANG_HOME), so editing, removing,
reordering or rewriting records without the key breaks the chain
(`AuditTrail.verify`). Cutting records off the end keeps the chain intact,
so the newest sequence number and MAC are also kept in a head file, and the
head is anchored outside both files (security/audit_anchor.py: the event
store and the watch log) so that replacing or deleting trail and head
together is detected too.

Appends take an exclusive `flock` so concurrent yunwang processes (a watch
loop and an operator acknowledging a warning) never interleave records. A
record is fsynced before the head moves; a crash between the two leaves the
trail exactly one record ahead of the head, which verify accepts and the next
append adopts, so the chain never forks.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from estate.home import yunwang_home
from security.audit_key import KEY_ENV as KEY_ENV
from security.audit_key import AuditError as AuditError
from security.audit_key import audit_key as audit_key
from security.audit_key import key_id
from security.durable import replace_durably

Outcome = Literal["success", "failure"]
GENESIS = "0" * 64
# Field types a record must have; anything else is tampering, not a crash.
_TYPES: dict[str, type] = {
    "seq": int,
    "time": str,
    "actor": str,
    "action": str,
    "target": str,
    "outcome": str,
    "detail": dict,
    "key": str,
    "prev": str,
    "hash": str,
}


_JSON_NAMES = {int: "an integer", str: "a string", dict: "an object"}


def default_path() -> Path:
    return yunwang_home() / "audit.jsonl"


class TamperedRecord(AuditError):
    """A line that is not a record this code wrote (wrong shape or types)."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    time: str
    actor: str
    action: str
    target: str
    outcome: Outcome
    detail: dict[str, Any]
    key: str
    prev: str
    hash: str

    def body(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "detail": self.detail,
            "key": self.key,
            "prev": self.prev,
        }


@dataclass(frozen=True)
class Breach:
    """Where the chain stops being trustworthy, and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def parse_record(line: str, number: int) -> AuditRecord:
    """One line of the trail, or TamperedRecord saying what is wrong with it."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TamperedRecord(number, f"not JSON ({exc.msg}): tampering") from None
    except RecursionError:
        raise TamperedRecord(number, "not JSON (nested too deep): tampering") from None
    except ValueError:  # an integer longer than Python reads (sys.get_int_max_str_digits)
        raise TamperedRecord(
            number, "not JSON this code wrote (a number too long): tampering"
        ) from None
    if not isinstance(raw, dict):
        raise TamperedRecord(number, "not a record (expected a JSON object): tampering")
    if set(raw) != set(_TYPES):
        odd = sorted(set(raw) ^ set(_TYPES))
        raise TamperedRecord(number, f"fields {odd} missing or unexpected: tampering")
    for name, kind in _TYPES.items():
        value = raw[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            found = json.dumps(value, ensure_ascii=False)
            found = found if len(found) <= 40 else found[:37] + "..."
            raise TamperedRecord(
                number, f"{name}: expected {_JSON_NAMES[kind]}, found {found}: tampering"
            )
    if raw["outcome"] not in ("success", "failure"):
        raise TamperedRecord(number, f"outcome: unknown value {raw['outcome'][:40]!r}: tampering")
    return AuditRecord(**raw)


def _mac(key: bytes, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


class AuditTrail:
    def __init__(self, path: Path | str | None = None, key: bytes | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.head_path = self.path.with_suffix(self.path.suffix + ".head")
        self._key = key

    @property
    def key(self) -> bytes:
        """The key for appending (generated on first use when none is configured)."""
        if self._key is None:
            self._key = audit_key(directory=self.path.parent)
        return self._key

    def _checking_key(self) -> bytes:
        if self._key is None:
            self._key = audit_key(create=False, directory=self.path.parent)
        return self._key

    def append(
        self,
        action: str,
        target: str,
        outcome: Outcome = "success",
        detail: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> AuditRecord:
        key = self.key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            seq, prev = self._adopt_unfinished(self.head())
            body: dict[str, Any] = {
                "seq": seq + 1,
                "time": datetime.now(UTC).isoformat(timespec="microseconds"),
                "actor": actor or current_actor(),
                "action": action,
                "target": target,
                "outcome": outcome,
                "detail": detail or {},
                "key": key_id(key),
                "prev": prev,
            }
            record = AuditRecord(**body, hash=_mac(key, body))
            handle.write(json.dumps({**body, "hash": record.hash}, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
            self._write_head(record.seq, record.hash)
        return record

    def _adopt_unfinished(self, head: tuple[int, str]) -> tuple[int, str]:
        """A record written just before a crash, whose head never moved, is the chain's end."""
        last = self._last_record()
        if last is not None and (last.seq, last.prev) == (head[0] + 1, head[1]):
            if hmac.compare_digest(_mac(self.key, last.body()), last.hash):
                self._write_head(last.seq, last.hash)
                return last.seq, last.hash
        return head

    def _last_record(self) -> AuditRecord | None:
        with open(self.path, "rb") as handle:
            end = handle.seek(0, os.SEEK_END)
            start = max(0, end - 65536)  # a record is far smaller than this
            handle.seek(start)
            lines = handle.read().splitlines()
        if not lines:
            return None
        try:
            return parse_record(lines[-1].decode("utf-8", "replace"), 0)
        except TamperedRecord:
            return None

    def records(self) -> Iterator[AuditRecord]:
        """Every record in order; TamperedRecord at the first line that is not one."""
        for _, record in self.numbered():
            yield record

    def numbered(self) -> Iterator[tuple[int, AuditRecord]]:
        if not self.path.exists():
            return
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        yield number, parse_record(line, number)
        except OSError as exc:
            raise AuditError(f"{self.path}: cannot read the trail ({exc.strerror})") from None

    def verify(self) -> list[Breach]:
        """Every breach of the chain; empty when the trail is intact."""
        breaches: list[Breach] = []
        last: AuditRecord | None = None
        if self.path.exists() and not self.path.is_file():
            raise AuditError(f"{self.path}: not a file (expected an audit trail)")
        key = self._checking_key() if self.path.exists() else b""
        mine = key_id(key)
        try:
            for number, record in self.numbered():
                breaches += _check(key, mine, number, record, last)
                last = record
        except TamperedRecord as exc:
            return [*breaches, Breach(exc.line, exc.reason)]
        head_seq, head_hash = self.head()
        end = (last.seq, last.hash) if last else (0, GENESIS)
        # One record past the head is a crash between its fsync and the head's
        # replace (the next append adopts it), not a cut.
        crashed = last is not None and (last.seq, last.prev) == (head_seq + 1, head_hash)
        if end != (head_seq, head_hash) and not crashed:
            why = (
                "records were cut off the end"
                if head_seq > end[0]
                else "the trail and its head disagree (rewritten)"
            )
            breaches.append(
                Breach(0, f"trail ends at record {end[0]} but the head says {head_seq}: {why}")
            )
        return breaches

    def head(self) -> tuple[int, str]:
        """The newest sequence number and MAC as the head file records them."""
        try:
            seq, digest = self.head_path.read_text().split()
            return int(seq), digest
        except (FileNotFoundError, ValueError):
            return 0, GENESIS
        except OSError as exc:
            raise AuditError(
                f"{self.head_path}: cannot read the audit head ({exc.strerror}); expected a file"
            ) from None

    def _write_head(self, seq: int, digest: str) -> None:
        replace_durably(self.head_path, f"{seq} {digest}\n")


def _check(
    key: bytes, mine: str, number: int, record: AuditRecord, before: AuditRecord | None
) -> list[Breach]:
    """What is wrong with one record, given the one before it."""
    found: list[Breach] = []
    if record.key != mine:
        found.append(
            Breach(number, f"record {record.seq} was sealed with another key (key id {record.key})")
        )
    elif not hmac.compare_digest(_mac(key, record.body()), record.hash):
        found.append(Breach(number, f"record {record.seq} was edited (its MAC does not match)"))
    if record.prev != (before.hash if before else GENESIS):
        found.append(
            Breach(
                number,
                f"record {record.seq} does not follow the one before it (removed or reordered)",
            )
        )
    expected = before.seq + 1 if before else 1
    if record.seq != expected:
        found.append(Breach(number, f"expected record {expected}, found {record.seq}"))
    return found


def current_actor() -> str:
    """Who acts: $YUNWANG_ACTOR (a service account, a CI job), else the login."""
    try:
        return os.environ.get("YUNWANG_ACTOR") or getpass.getuser()
    except OSError:
        return f"uid:{os.getuid()}"


def record(
    action: str,
    target: str,
    outcome: Outcome = "success",
    detail: dict[str, Any] | None = None,
    actor: str | None = None,
) -> AuditRecord:
    """Append one action to the default trail ($YUNWANG_HOME/audit.jsonl)."""
    return AuditTrail().append(action, target, outcome, detail, actor)
