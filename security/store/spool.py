"""A disk spool: events that could not reach Elasticsearch wait here, in order.

One append-only JSONL file plus a committed byte offset. Replay reads from
the offset, and the offset moves only after Elasticsearch acknowledged a
chunk, so a crash mid-replay re-sends at most one chunk, which the
deterministic event ids turn into no-ops. When everything is replayed the
file is truncated.

What a crash or a full disk can leave behind, and what becomes of it:
- an unfinished last line (a write cut short): a failed append cuts its own
  bytes off again, and opening the spool moves any unterminated tail to the
  quarantine file, so later appends never glue onto half a record;
- a line that is not a JSON object (torn earlier, or edited): replay moves it
  to the quarantine file and carries on with the next line;
- a crash after truncating the replayed file but before the offset was
  reset: the offset then points past the end, which opening reads as 0.
Every file write is fsynced (and the directory, for the offset's rename), so
what the spool acknowledged survives a power cut too.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from security.durable import replace_durably

_TAIL_BLOCK = 65536


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "events.jsonl"
        self.offset_path = directory / "events.offset"
        self.rejected_path = directory / "rejected.jsonl"
        self.quarantine_path = directory / "quarantine.jsonl"
        self.quarantined = 0
        self._quarantined_at: set[int] = set()  # byte positions already moved this run
        self._lock = threading.Lock()
        self.path.touch(exist_ok=True)
        with self._lock:
            self._repair()

    # -- writing ---------------------------------------------------------
    def append(self, docs: Sequence[dict[str, Any]]) -> None:
        """All of `docs` or none: a failed write (ENOSPC) is cut off again and raised."""
        if not docs:
            return
        data = "".join(
            json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n" for doc in docs
        ).encode()
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            try:
                start = os.fstat(fd).st_size
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    os.fsync(fd)
                except OSError:
                    # Truncating frees blocks, so it works on a full disk too.
                    os.ftruncate(fd, start)
                    raise
            finally:
                os.close(fd)

    def reject(self, doc: dict[str, Any], reason: str) -> None:
        """Documents Elasticsearch refused for good (mapping errors) are kept, not dropped."""
        with self._lock:
            _append_synced(
                self.rejected_path,
                json.dumps({"reason": reason, "doc": doc}, ensure_ascii=False) + "\n",
            )

    # -- reading ---------------------------------------------------------
    def _offset(self) -> int:
        try:
            return int(self.offset_path.read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def pending_bytes(self) -> int:
        return max(0, self.path.stat().st_size - self._offset())

    def __bool__(self) -> bool:
        return self.pending_bytes() > 0

    def __len__(self) -> int:
        with open(self.path, "rb") as handle:
            handle.seek(self._offset())
            return sum(1 for _ in handle)

    def read(self, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Up to `limit` documents from the committed offset, and the offset after them.

        Lines that are not a spooled event go to the quarantine file and are skipped.
        """
        docs: list[dict[str, Any]] = []
        with open(self.path, "rb") as handle:
            handle.seek(self._offset())
            while len(docs) < limit:
                at = handle.tell()
                line = handle.readline()
                if not line or not line.endswith(b"\n"):
                    break  # the end (a torn tail is cut when the spool is opened)
                doc = _document(line)
                if doc is None:
                    self._quarantine(at, line, "not a spooled event (torn or damaged line)")
                    continue
                docs.append(doc)
            return docs, handle.tell()

    def commit(self, offset: int) -> None:
        with self._lock:
            if offset >= self.path.stat().st_size:
                # Fully replayed: empty the file, then reset the offset. A crash
                # between the two leaves an offset past the end: _repair reads 0.
                with open(self.path, "r+b") as handle:
                    handle.truncate(0)
                    os.fsync(handle.fileno())
                self._quarantined_at.clear()
                offset = 0
            self._write_offset(offset)

    # -- repair ----------------------------------------------------------
    def _repair(self) -> None:
        size = self.path.stat().st_size
        if self._offset() > size:
            self._write_offset(0)
        if size == 0:
            return
        with open(self.path, "r+b") as handle:
            start = size
            while start > 0:
                start = max(0, start - _TAIL_BLOCK)
                handle.seek(start)
                block = handle.read(size - start)
                newline = block.rfind(b"\n")
                if newline >= 0:
                    cut = start + newline + 1
                    break
            else:
                cut = 0
            if cut == size:
                return
            handle.seek(cut)
            tail = handle.read()
            # Half a record is no event: cutting it must not wait for disk space.
            with contextlib.suppress(OSError):
                self._quarantine(cut, tail, "unfinished write (crash or full disk)", locked=True)
            handle.truncate(cut)
            os.fsync(handle.fileno())

    def _quarantine(self, at: int, raw: bytes, reason: str, locked: bool = False) -> None:
        if at in self._quarantined_at:
            return
        entry = json.dumps(
            {"reason": reason, "offset": at, "line": raw.decode("utf-8", "replace")},
            ensure_ascii=False,
        )
        if locked:
            _append_synced(self.quarantine_path, entry + "\n")
        else:
            with self._lock:
                _append_synced(self.quarantine_path, entry + "\n")
        self._quarantined_at.add(at)
        self.quarantined += 1

    def _write_offset(self, offset: int) -> None:
        replace_durably(self.offset_path, str(offset))


def _document(line: bytes) -> dict[str, Any] | None:
    """A spooled bulk action (`_id` and `_source`), or None for anything else."""
    try:
        doc = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    if not isinstance(doc.get("_id"), str) or not isinstance(doc.get("_source"), dict):
        return None
    return doc


def _append_synced(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
