"""A disk spool: events that could not reach Elasticsearch wait here, in order.

One append-only JSONL file plus a committed byte offset. Replay reads from
the offset, and the offset moves only after Elasticsearch acknowledged a
chunk, so a crash mid-replay re-sends at most one chunk, which the
deterministic event ids turn into no-ops. When everything is replayed the
file is truncated.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "events.jsonl"
        self.offset_path = directory / "events.offset"
        self.rejected_path = directory / "rejected.jsonl"
        self._lock = threading.Lock()
        self.path.touch(exist_ok=True)

    def append(self, docs: Sequence[dict[str, Any]]) -> None:
        if not docs:
            return
        lines = "".join(
            json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n" for doc in docs
        )
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())

    def reject(self, doc: dict[str, Any], reason: str) -> None:
        """Documents Elasticsearch refused for good (mapping errors) are kept, not dropped."""
        with self._lock, open(self.rejected_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"reason": reason, "doc": doc}, ensure_ascii=False) + "\n")

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
        """Up to `limit` documents from the committed offset, and the offset after them."""
        docs: list[dict[str, Any]] = []
        with open(self.path, "rb") as handle:
            handle.seek(self._offset())
            while len(docs) < limit:
                line = handle.readline()
                if not line or not line.endswith(b"\n"):
                    break  # end, or a torn last line still being written
                docs.append(json.loads(line))
            return docs, handle.tell()

    def commit(self, offset: int) -> None:
        with self._lock:
            if offset >= self.path.stat().st_size:
                # Fully replayed: start over with an empty file.
                self.path.write_bytes(b"")
                offset = 0
            tmp = self.offset_path.with_suffix(".tmp")
            tmp.write_text(str(offset))
            os.replace(tmp, self.offset_path)
