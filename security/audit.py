"""A tamper-evident trail of every action the platform takes.

Each record carries the hash of the one before it, so editing, removing or
reordering a record breaks the chain (`AuditTrail.verify`). Cutting records
off the end keeps the chain intact, so the newest sequence number and hash
are also kept in a separate head file that verify compares against.

Appends take an exclusive `flock` so concurrent yunwang processes (a watch
loop and an operator acknowledging a warning) never interleave records.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from estate.home import yunwang_home

Outcome = Literal["success", "failure"]
GENESIS = "0" * 64


def default_path() -> Path:
    return yunwang_home() / "audit.jsonl"


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    time: str
    actor: str
    action: str
    target: str
    outcome: Outcome
    detail: dict[str, Any]
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
            "prev": self.prev,
        }


@dataclass(frozen=True)
class Breach:
    """Where the chain stops being trustworthy, and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditTrail:
    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.head_path = self.path.with_suffix(self.path.suffix + ".head")

    def append(
        self,
        action: str,
        target: str,
        outcome: Outcome = "success",
        detail: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> AuditRecord:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            seq, prev = self._read_head()
            body: dict[str, Any] = {
                "seq": seq + 1,
                "time": datetime.now(UTC).isoformat(timespec="microseconds"),
                "actor": actor or _current_actor(),
                "action": action,
                "target": target,
                "outcome": outcome,
                "detail": detail or {},
                "prev": prev,
            }
            record = AuditRecord(**body, hash=_digest(body))
            handle.write(json.dumps({**body, "hash": record.hash}, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
            self._write_head(record.seq, record.hash)
        return record

    def records(self) -> Iterator[AuditRecord]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield AuditRecord(**json.loads(line))

    def verify(self) -> list[Breach]:
        """Every breach of the chain; empty when the trail is intact."""
        breaches: list[Breach] = []
        prev, expected_seq = GENESIS, 1
        if not self.path.exists():
            return breaches
        with open(self.path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                    record = AuditRecord(**raw)
                except (ValueError, TypeError) as exc:
                    breaches.append(Breach(number, f"unreadable record ({exc})"))
                    return breaches
                if _digest(record.body()) != record.hash:
                    breaches.append(Breach(number, f"record {record.seq} was edited"))
                if record.prev != prev:
                    breaches.append(
                        Breach(
                            number,
                            f"record {record.seq} does not follow the one before it (removed or reordered)",
                        )
                    )
                if record.seq != expected_seq:
                    breaches.append(
                        Breach(number, f"expected record {expected_seq}, found {record.seq}")
                    )
                prev, expected_seq = record.hash, record.seq + 1
        head_seq, head_hash = self._read_head()
        if (head_seq, head_hash) != (expected_seq - 1, prev):
            breaches.append(
                Breach(
                    0,
                    f"trail ends at record {expected_seq - 1} but the head says {head_seq}: records were cut off the end",
                )
            )
        return breaches

    def _read_head(self) -> tuple[int, str]:
        try:
            seq, digest = self.head_path.read_text().split()
            return int(seq), digest
        except (FileNotFoundError, ValueError):
            return 0, GENESIS

    def _write_head(self, seq: int, digest: str) -> None:
        tmp = self.head_path.with_suffix(".tmp")
        tmp.write_text(f"{seq} {digest}\n")
        os.replace(tmp, self.head_path)


def _current_actor() -> str:
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
