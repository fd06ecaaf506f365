"""`yunwang watch` when stdout is not a terminal: log lines instead of the live view.

Piped, under systemd or in a container log, a redrawn screen is noise and
silence in turn. Instead each warning that opens, escalates or resolves gets
one line when it happens, and a status line comes once a period:

    2026-11-30T02:10:04Z warning opened W1a2b orange YW-LINK-001 hl on its backup link
    2026-11-30T02:10:04Z audit head record 7 mac 3f9c01d2a8e4b7c6 /var/lib/yunwang/audit.jsonl
    2026-11-30T02:11:00Z status cycle 12 · devices 14 reachable · open red 1 orange 2 ...

The audit line comes whenever the trail's head moved: a log collector keeps
it where a rewrite of the trail, its head and the event store cannot reach
(`yunwang audit verify` checks the store's copy; a person can check this one).
The first 16 hex digits of the MAC (64 bits) are enough to tell a forgery.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TextIO

from security.levels import LEVELS
from yunwang.watch_job import Summary

SEVERITY = {level: rank for rank, level in enumerate(reversed(LEVELS))}  # blue 0 ... red 3


class WatchLog:
    """Turns successive summaries into log lines on `stream`."""

    def __init__(self, stream: TextIO, status_every_s: float) -> None:
        self.stream = stream
        self.status_every_s = status_every_s
        self._open: dict[str, dict[str, Any]] = {}
        self._last_status: float | None = None
        self._audit: dict[str, Any] | None = None

    def update(self, summary: Summary, now: float) -> None:
        """Log what changed since the previous summary; a status line if one is due."""
        current = {w["id"]: w for w in summary.warnings}
        for wid, w in current.items():
            before = self._open.get(wid)
            if before is None:
                self._line(f"warning opened {_describe(w)}")
            elif SEVERITY[w["level"]] > SEVERITY[before["level"]]:
                self._line(f"warning escalated {before['level']} -> {_describe(w)}")
        for wid, w in self._open.items():
            if wid not in current:
                self._line(f"warning resolved {_describe(w)}")
        self._open = current
        if summary.audit is not None and summary.audit != self._audit:
            self._audit = summary.audit
            self._line(f"audit head {_head(summary.audit)} {summary.audit['file']}")
        if self._last_status is None or now - self._last_status >= self.status_every_s:
            self._last_status = now
            self._line(f"status {status(summary)}")

    def _line(self, text: str) -> None:
        when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.stream.write(f"{when} {text}\n")
        self.stream.flush()


def status(s: Summary) -> str:
    devices = ", ".join(f"{n} {state}" for state, n in sorted(s.devices.items())) or "polling"
    by_level = " ".join(
        f"{level} {sum(1 for w in s.warnings if w['level'] == level)}" for level in LEVELS
    )
    city = next((p["score"] for p in s.posture if p["kind"] == "city"), None)
    posture = f" · posture {city:.1f}" if city is not None else ""
    audit = f" · audit {_head(s.audit)}" if s.audit is not None else ""
    return (
        f"cycle {s.cycles} · devices {devices} · open warnings {by_level}{posture}"
        f" · events {sum(s.events.values())}{audit}"
    )


def _head(audit: dict[str, Any]) -> str:
    return f"record {audit['seq']} mac {audit['mac'][:16]}"


def _describe(w: dict[str, Any]) -> str:
    return f"{w['id']} {w['level']} {w['rule']} {w['summary']}"
