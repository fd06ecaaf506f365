"""The lab directory: a record of everything the lab made, written as it goes.

`up` writes each namespace, process, mount and directory here *before* or
right after making it, so `down` can undo a half-built or crashed lab from
this record alone. The file is rewritten atomically (temp file + rename).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from estate.home import yunwang_home
from lab.errors import LabError

STATE_VERSION = 1


def lab_dir(home: Path | None = None) -> Path:
    return (home or yunwang_home()) / "lab"


def lab_tag(directory: Path) -> str:
    """A short id from the lab directory, so two labs (a user's and a test
    session's) never share a namespace name."""
    return hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:4]


@dataclass
class Process:
    pid: int
    started: int | None
    what: str
    namespace: str | None = None


@dataclass
class LabState:
    directory: Path
    tag: str
    estate: str | None = None
    slice: dict[str, int] = field(default_factory=dict)
    phase: str = "empty"  # empty | building | up | failed
    namespaces: list[str] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    plan: dict[str, Any] = field(default_factory=dict)
    chaos: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    # Routers and hosts start from a thread pool: one writer at a time.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def file(self) -> Path:
        return self.directory / "state.json"

    @classmethod
    def load(cls, directory: Path) -> LabState:
        path = directory / "state.json"
        if not path.exists():
            return cls(directory=directory, tag=lab_tag(directory))
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise LabError(f"{path}: unreadable lab state ({exc.strerror})") from exc
        except (ValueError, RecursionError) as exc:  # bad JSON, not UTF-8, a huge number
            raise LabError(f"{path}: unreadable lab state ({str(exc)[:80]})") from exc
        if not isinstance(raw, dict):
            raise LabError(f"{path}: expected a lab state object, found {type(raw).__name__}")
        if raw.get("version") != STATE_VERSION:
            raise LabError(f"{path}: lab state version {raw.get('version')!r:.40}, expected 1")
        try:
            state = cls(
                directory=directory,
                tag=str(raw["tag"]),
                estate=raw.get("estate"),
                slice=dict(raw.get("slice", {})),
                phase=str(raw.get("phase", "empty")),
                namespaces=[str(n) for n in raw.get("namespaces", [])],
                processes=[Process(**p) for p in raw.get("processes", [])],
                mounts=[str(m) for m in raw.get("mounts", [])],
                dirs=[str(d) for d in raw.get("dirs", [])],
                plan=dict(raw.get("plan", {})),
                chaos=dict(raw.get("chaos", {})),
                timings=dict(raw.get("timings", {})),
            )
            if state.plan:
                # Checked here, once: every command that reads the plan trusts it.
                from lab.blueprint import LabPlan

                LabPlan.from_dict(state.plan)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise LabError(
                f"{path}: not a lab state yunwang wrote ({type(exc).__name__}: {str(exc)[:80]})"
            ) from exc
        return state

    def save(self) -> None:
        with self._lock:
            self._write()

    def _write(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        body = {
            "version": STATE_VERSION,
            "tag": self.tag,
            "estate": self.estate,
            "slice": self.slice,
            "phase": self.phase,
            "namespaces": self.namespaces,
            "processes": [asdict(p) for p in self.processes],
            "mounts": self.mounts,
            "dirs": self.dirs,
            "plan": self.plan,
            "chaos": self.chaos,
            "timings": self.timings,
        }
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(body, indent=1, sort_keys=True))
        tmp.replace(self.file)

    def is_empty(self) -> bool:
        return not (self.namespaces or self.processes or self.mounts or self.dirs)

    def add_namespace(self, name: str) -> None:
        if name not in self.namespaces:
            self.namespaces.append(name)
        self.save()

    def add_process(self, process: Process) -> None:
        self.processes.append(process)
        self.save()

    def add_mount(self, path: str) -> None:
        if path not in self.mounts:
            self.mounts.append(path)
        self.save()

    def add_dir(self, path: str) -> None:
        if path not in self.dirs:
            self.dirs.append(path)
        self.save()


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Serialise lab commands on one lab directory (up/down/cut may race)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
