"""Hostile cases for the Elasticsearch spool: kills, crashes at sync points, a full disk.

    .venv/bin/python bench/spool_faults.py [--url http://127.0.0.1:9200] [--runs 5]

Without --url it starts its own node with ci/elasticsearch/start.sh on a free
port and stops it at the end. The full-disk case mounts a 256 KiB tmpfs and
needs root (skipped otherwise, and said so). Every case counts events:
tried (acknowledged by the store before the fault), survived (in
Elasticsearch after a fresh process replayed the spool), lost, and
duplicates (documents beyond one per event id). Prints JSON and the markdown
table bench/RESULTS.md carries.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from elasticsearch import helpers

from security.events import Event
from security.store.elastic import ElasticStore

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def event(i: int) -> Event:
    return Event(
        timestamp=T0 + timedelta(milliseconds=i),
        dataset="yunwang.links",
        action="link-state-changed",
        message=f"spooled event {i} " + "x" * (i % 97),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the processes that get killed ---------------------------------------------


def child_spool_writer(directory: Path) -> None:
    """Spools forever (Elasticsearch unreachable); prints how many events each flush secured."""
    store = ElasticStore(
        f"http://127.0.0.1:{free_port()}", namespace="bench", spool_dir=directory, batch_size=50
    )
    n = 0
    while True:
        store.put_events([event(i) for i in range(n, n + 50)])
        store.flush()
        n += 50
        print(n, flush=True)


def child_replayer(url: str, namespace: str, directory: Path, crash_at_commit: bool) -> None:
    if crash_at_commit:
        real_replace = os.replace

        def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
            if str(dst).endswith("events.offset"):  # chunk acknowledged, offset not yet moved
                os.kill(os.getpid(), signal.SIGKILL)
            real_replace(src, dst)

        os.replace = replace  # type: ignore[assignment]
    chunk = int(os.environ.get("BENCH_CHUNK", "200"))
    ElasticStore(url, namespace=namespace, spool_dir=directory, chunk_size=chunk).flush()


# -- counting ----------------------------------------------------------------------


@dataclass
class Tally:
    case: str
    runs: int = 0
    tried: int = 0
    survived: int = 0
    duplicates: int = 0
    quarantined: int = 0

    @property
    def lost(self) -> int:
        return self.tried - self.survived

    def to_dict(self) -> dict[str, object]:
        return {**self.__dict__, "lost": self.lost}


def replay_and_count(url: str, namespace: str, directory: Path, tried: list[Event]) -> Tally:
    store = ElasticStore(url, namespace=namespace, spool_dir=directory)
    store.flush()
    assert not store.spool, "the spool replays completely"
    ids = [
        hit["_source"]["event"]["id"]
        for hit in helpers.scan(
            store.client,
            index=store.stream,
            query={"_source": ["event.id"]},
            ignore_unavailable=True,
        )
    ]
    wanted = {e.id for e in tried}
    tally = Tally("", tried=len(wanted), survived=len(wanted & set(ids)))
    tally.duplicates = len(ids) - len(set(ids))
    tally.quarantined = store.health().quarantined_lines
    store.close()
    return tally


def add(total: Tally, one: Tally) -> None:
    total.runs += 1
    total.tried += one.tried
    total.survived += one.survived
    total.duplicates += one.duplicates
    total.quarantined += one.quarantined


def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--child", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def offline_spool(directory: Path, n: int) -> list[Event]:
    store = ElasticStore(
        f"http://127.0.0.1:{free_port()}", namespace="bench", spool_dir=directory, batch_size=500
    )
    events = [event(i) for i in range(n)]
    store.put_events(events)
    store.close()
    return events


# -- the cases -----------------------------------------------------------------------


def kill_while_spooling(url: str, work: Path, runs: int, rng: random.Random) -> Tally:
    total = Tally("SIGKILL while spooling (Elasticsearch down)")
    for run in range(runs):
        directory = work / f"spooling-{run}"
        child = spawn("writer", str(directory))
        assert child.stdout is not None
        acked = int(child.stdout.readline())  # started and spooling
        time.sleep(rng.uniform(0.2, 1.5))
        child.send_signal(signal.SIGKILL)
        child.wait()
        acked = max([acked, *(int(x) for x in child.stdout.read().split())])
        namespace = "k" + uuid.uuid4().hex[:8]
        add(total, replay_and_count(url, namespace, directory, [event(i) for i in range(acked)]))
    return total


def kill_while_replaying(url: str, work: Path, runs: int, rng: random.Random) -> Tally:
    total = Tally("SIGKILL while replaying into Elasticsearch")
    for run in range(runs):
        directory = work / f"replaying-{run}"
        events = offline_spool(directory, 3000)
        namespace = "r" + uuid.uuid4().hex[:8]
        child = spawn("replayer", url, namespace, str(directory), "no-crash-hook")
        time.sleep(rng.uniform(0.3, 2.0))
        child.send_signal(signal.SIGKILL)
        child.wait()
        add(total, replay_and_count(url, namespace, directory, events))
    return total


def crash_at_commit(url: str, work: Path, runs: int, chunk: int, case: str) -> Tally:
    total = Tally(case)
    for run in range(runs):
        directory = work / f"commit-{chunk}-{run}"
        events = offline_spool(directory, 1000)
        namespace = "c" + uuid.uuid4().hex[:8]
        child = spawn(
            "replayer", url, namespace, str(directory), "crash", env={"BENCH_CHUNK": str(chunk)}
        )
        child.wait()
        assert child.returncode == -signal.SIGKILL, "killed at the sync point"
        # What arrives after the restart goes behind whatever the crash left.
        late = ElasticStore(
            f"http://127.0.0.1:{free_port()}", namespace="bench", spool_dir=directory
        )
        more = [event(i) for i in range(1000, 1100)]
        late.put_events(more)
        late.close()
        add(total, replay_and_count(url, namespace, directory, events + more))
    return total


@contextmanager
def small_disk(path: Path) -> Iterator[Path]:
    path.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def full_disk(url: str, work: Path, runs: int) -> Tally:
    total = Tally("spool disk full (ENOSPC on a 256 KiB tmpfs), then freed")
    for run in range(runs):
        with small_disk(work / f"disk-{run}") as disk:
            directory = disk / "spool"
            store = ElasticStore(
                f"http://127.0.0.1:{free_port()}",
                namespace="bench",
                spool_dir=directory,
                batch_size=50,
            )
            events = [event(i) for i in range(600)]
            store.put_events(events[:20])
            store.flush()
            filler = disk / "filler"
            with filler.open("wb", buffering=0) as handle:
                try:
                    while True:
                        handle.write(b"\0" * 4096)
                except OSError:
                    pass
            for i in range(20, 600, 50):
                store.put_events(events[i : i + 50])
                store.flush()
            held = store.health().held_events
            assert held >= 580, f"the full disk's batches are held in memory ({held})"
            filler.unlink()
            store.close()
            namespace = "d" + uuid.uuid4().hex[:8]
            add(total, replay_and_count(url, namespace, directory, events))
    return total


# -- running -------------------------------------------------------------------------


def table(tallies: list[Tally]) -> str:
    rows = [
        "| case | runs | tried | survived | lost | duplicates | torn lines quarantined |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t in tallies:
        rows.append(
            f"| {t.case} | {t.runs} | {t.tried:,} | {t.survived:,} | {t.lost} | "
            f"{t.duplicates} | {t.quarantined} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "writer":
            child_spool_writer(Path(rest[0]))
        else:
            child_replayer(rest[0], rest[1], Path(rest[2]), rest[3] == "crash")
        return
    node_dir = None
    url = args.url
    if url is None:
        port = free_port()
        node_dir = Path(tempfile.mkdtemp(prefix="yunwang-es-bench-"))
        start = [str(ROOT / "ci/elasticsearch/start.sh"), "--dir", str(node_dir)]
        subprocess.run([*start, "--port", str(port)], check=True)
        url = f"http://127.0.0.1:{port}"
    rng = random.Random(args.seed)
    try:
        with tempfile.TemporaryDirectory(prefix="yunwang-spool-bench-") as tmp:
            work = Path(tmp)
            tallies = [
                kill_while_spooling(url, work, args.runs, rng),
                kill_while_replaying(url, work, args.runs, rng),
                crash_at_commit(
                    url,
                    work,
                    args.runs,
                    2000,
                    "crash after emptying the replayed file, before the offset reset",
                ),
                crash_at_commit(
                    url,
                    work,
                    args.runs,
                    200,
                    "crash after a chunk was acknowledged, before the offset moved",
                ),
            ]
            if os.geteuid() == 0:
                tallies.append(full_disk(url, work, args.runs))
            else:
                print("not root: the full-disk case needs a tmpfs mount; skipped", file=sys.stderr)
        print(json.dumps([t.to_dict() for t in tallies], indent=2))
        print(table(tallies))
    finally:
        if node_dir is not None:
            subprocess.run(
                [str(ROOT / "ci/elasticsearch/stop.sh"), "--dir", str(node_dir)], check=True
            )


if __name__ == "__main__":
    main()
