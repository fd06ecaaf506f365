"""The sensor's per-frame path, compiled with mypyc when a build of these exact sources exists.

The sensor is typed Python; mypyc (the mypy project's compiler) turns the
modules every frame passes through into C extensions, about 1.4 times as
fast on the bench's captures (bench/RESULTS.md). The same build compiles
the one module written in C, the file-share assigner (`split.c`, see
`shards.ShardAssigner`). The compiled modules do
not live in the source tree: a build goes to
`$XDG_CACHE_HOME/yunwang/compiled/<key>` (default ~/.cache), where the key
hashes the sources of every compiled module and the Python version. The
packages put that folder first on their `__path__` only when its key is the
key of the sources on disk, so an edited module is never shadowed by a stale
build: until it is rebuilt, the sensor runs interpreted, with the same
results.

    python -m monitors.packets.compiled build    # idempotent; `make install` runs it
    YUNWANG_COMPILED=0 yunwang sense ...           # interpreted, for comparison

A machine without a C compiler runs the sensor interpreted; `build` says so
in one line (and fails under CI=true, where the suite must test what users
run).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from estate.home import user_cache

_HERE: Final = Path(__file__).resolve().parent
_ROOT: Final = _HERE.parent.parent
# Every module a frame goes through in `Sensor.feed_all`, and nothing that
# forks, opens sockets or loads the estate (those stay interpreted).
MODULES: Final = (
    "monitors/packets/capture.py",
    "monitors/packets/decode.py",
    "monitors/packets/fastpath.py",
    "monitors/packets/flows.py",
    "monitors/packets/sensor.py",
    "monitors/packets/shards.py",
    "monitors/packets/signature.py",
    "monitors/packets/detections/adoption.py",
    "monitors/packets/detections/arp.py",
    "monitors/packets/detections/dhcp.py",
    "monitors/packets/detections/gateway.py",
    "monitors/packets/detections/ndp.py",
    "monitors/packets/detections/scan.py",
    "monitors/packets/detections/zones.py",
)
# C written for the sensor (the file-share assigner), built with the same key.
NATIVE: Final = {"monitors.packets._split": "monitors/packets/split.c"}
SOURCES: Final = (*MODULES, *NATIVE.values())  # what a build is keyed on
_KEEP: Final = 4  # builds kept in the cache (other clones share it)


def cache_root() -> Path:
    return user_cache() / "compiled"


def build_key(root: Path = _ROOT) -> str:
    """Hash of the compiled modules' sources under `root` and the interpreter
    that loads them."""
    digest = hashlib.sha256(sys.version.encode())
    for module in SOURCES:
        digest.update(module.encode())
        digest.update((root / module).read_bytes())
    return digest.hexdigest()[:24]


def build_dir() -> Path:
    return cache_root() / build_key()


def wanted() -> bool:
    return os.environ.get("YUNWANG_COMPILED", "1") != "0"


def _lib() -> Path | None:
    """The build of these sources, if there is one and it is wanted."""
    lib = build_dir()
    if not wanted() or not (lib / "complete").is_file():
        return None
    if str(lib) not in sys.path:
        sys.path.append(str(lib))  # mypyc's shared runtime module is top-level
    return lib


def prefer_compiled(path: list[str], package: str) -> list[str]:
    """`path` (a package's `__path__`) with the build's folder for `package`
    ("monitors/packets") first, when a build of these sources exists."""
    lib = _lib()
    if lib is None:
        return path
    return [str(lib / package), *path]


def in_use() -> bool:
    """Whether the sensor's modules were loaded from a build."""
    from importlib import import_module

    return Path(import_module(f"{__package__}.decode").__file__ or "").suffix != ".py"


def build() -> Path:
    """Compile `MODULES` into `build_dir()` unless it is there; return it."""
    target = build_dir()
    if (target / "complete").is_file():
        return target
    # Imported here: mypy and setuptools cost a second to import, and only a
    # build needs them.
    from mypyc.build import mypycify
    from setuptools import Distribution, Extension  # type: ignore[import-untyped]

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=target.parent))
    cwd = Path.cwd()
    try:
        os.chdir(_ROOT)  # mypyc names modules by their paths from the root
        extensions = mypycify(list(MODULES), opt_level="3", target_dir=str(work / "c"))
        extensions += [
            Extension(name, [source], extra_compile_args=["-O2"]) for name, source in NATIVE.items()
        ]
        # A bare Distribution: setup() would read pyproject.toml, which is
        # the project's, not this build's.
        dist = Distribution({"name": "yunwang-sensor-compiled", "ext_modules": extensions})
        command = dist.get_command_obj("build_ext")
        command.build_lib = str(work / "lib")
        command.build_temp = str(work / "temp")
        dist.run_command("build_ext")
        (work / "lib" / "complete").write_text(build_key() + "\n")
        try:
            (work / "lib").rename(target)
        except OSError:
            if not (target / "complete").is_file():  # not another build winning the race
                raise
    finally:
        os.chdir(cwd)
        shutil.rmtree(work, ignore_errors=True)
    _prune(target)
    return target


def _prune(keep: Path) -> None:
    builds = sorted(
        (p for p in cache_root().iterdir() if p.is_dir() and p != keep and p.name[:6] != "build-"),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in builds[_KEEP - 1 :]:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _output_to(log: Path) -> Iterator[None]:
    """The compiler's chatter (gcc is a child: file descriptors, not sys.stdout) into `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("wb") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def main(argv: list[str]) -> int:
    if argv != ["build"]:
        print("usage: python -m monitors.packets.compiled build", file=sys.stderr)
        return 2
    try:
        with _output_to(cache_root() / "build.log"):
            target = build()
    except Exception as exc:
        last = (str(exc) or type(exc).__name__).strip().splitlines()[-1]
        print(
            f"sensor not compiled (runs interpreted): {last} (see {cache_root() / 'build.log'})",
            file=sys.stderr,
        )
        return 1 if os.environ.get("CI") == "true" else 0
    print(f"sensor compiled: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
