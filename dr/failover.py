"""The failover drill: cut the primary under load, promote, repoint, measure.

A writer (dr/writer.py, run on a client host with libpq's multi-host list)
commits timestamped rows at a steady rate. The drill stops the primary
(`-m immediate`: as abrupt as a power cut), promotes the standby and waits
for the writer's first commit on the DR side. Achieved RPO is the commit
time of the last row the primary acknowledged minus that of the last of
those rows present on the promoted standby (0 when none is missing);
achieved RTO is cut -> first acknowledged write on the DR side. The old
primary is then rebuilt as the new standby, so the next drill runs the
other way on the same hosts.
"""

from __future__ import annotations

import json
import math
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dr.checks import read_lag
from dr.pair import APP_USER, DATABASE, DrError, DrPair, psql, ssh
from dr.record import DrillRecord

WRITER = Path(__file__).with_name("writer.py")
WRITER_ON_HOST = "/usr/local/lib/yunwang-dr-writer.py"


@dataclass
class WriterLog:
    acks: list[dict[str, Any]] = field(default_factory=list)
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, stream: Any) -> None:
        for line in stream:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                if "seq" in item:
                    self.acks.append(item)
                else:
                    self.errors += 1

    def on(self, server: str) -> list[dict[str, Any]]:
        with self.lock:
            return [a for a in self.acks if a["server"] == server]


def start_writer(
    pair: DrPair, client: str, rate: float, duration_s: float, first_seq: int
) -> tuple[Any, WriterLog]:
    ssh(pair.hosts, client, f"cat > {WRITER_ON_HOST}", stdin=WRITER.read_text())
    targets = f"{pair.address(pair.primary)},{pair.address(pair.standby)}"
    argv = [
        *pair.hosts.ssh_argv(client),
        f"python3 {WRITER_ON_HOST} {targets} {DATABASE} {APP_USER} {rate:g} {duration_s:g} {first_seq:d}",
    ]
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdin is not None
    proc.stdin.write(pair.secrets.app + "\n")
    proc.stdin.close()
    log = WriterLog()
    threading.Thread(target=log.read, args=(proc.stdout,), daemon=True).start()
    return proc, log


def _wait(what: str, ready: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            raise DrError(f"failover drill: {what} within {timeout_s:g} s")
        time.sleep(0.02)


def failover_drill(
    pair: DrPair,
    record: DrillRecord,
    *,
    client: str | None = None,
    rate: float = 100.0,
    warmup_s: float = 2.0,
    timeout_s: float = 60.0,
) -> DrillRecord:
    """Run one failover drill on `pair`, filling in `record` (also on failure)."""
    client = client or pair.standby
    old_primary, new_primary = pair.primary, pair.standby
    primary_addr, standby_addr = pair.address(old_primary), pair.address(new_primary)
    record.facts.update(primary=old_primary, standby=new_primary, write_rate=f"{rate:g}")
    record.facts["commit"] = "synchronous" if pair.sync else "asynchronous"
    proc = None
    try:
        mark = time.monotonic()
        # A disaster does not wait for the standby to catch up: the drill goes
        # on from whatever state replication is in, and says what it found.
        lag, why = read_lag(pair.hosts, new_primary)
        record.facts["lag_at_cut_s"] = "unknown" if math.isinf(lag) else f"{lag:.3f}"
        if lag > 0:
            record.facts["replication"] = why if math.isinf(lag) else "behind"
        first = int(
            psql(pair.hosts, old_primary, "SELECT coalesce(max(seq), 0) + 1 FROM drill_rows")
        )
        record.steps["check"] = time.monotonic() - mark
        proc, log = start_writer(pair, client, rate, warmup_s + timeout_s + 5, first)
        _wait("the writer committed on the primary", lambda: log.on(primary_addr), 15)
        time.sleep(warmup_s)

        cut = time.time()
        pair.stop(old_primary)
        record.steps["cut"] = time.time() - cut
        mark = time.time()
        pair.promote(new_primary)
        record.steps["promote"] = time.time() - mark
        _wait("no write succeeded on the DR side", lambda: log.on(standby_addr), timeout_s)
        first_dr = log.on(standby_addr)[0]
        record.achieved_rto_s = first_dr["at"] - cut
        proc.terminate()

        acked = log.on(primary_addr)
        last = acked[-1]
        present = psql(
            pair.hosts,
            new_primary,
            "SELECT count(*), coalesce(max(seq), 0) FROM drill_rows "
            f"WHERE seq BETWEEN {first} AND {int(last['seq'])}",
        ).split("|")
        lost = int(last["seq"]) - first + 1 - int(present[0])
        newest_present = next((a for a in reversed(acked) if a["seq"] <= int(present[1])), None)
        if lost == 0:
            record.achieved_rpo_s = 0.0
        elif newest_present is None:
            record.achieved_rpo_s = last["at"] - acked[0]["at"]
        else:
            record.achieved_rpo_s = last["at"] - newest_present["at"]
        record.facts.update(rows_acked=str(len(acked)), rows_lost=str(max(lost, 0)))

        mark = time.monotonic()
        pair.swap()
        pair.ready_for_standby()
        pair.rebuild_standby()
        pair.commit_mode()
        record.steps["rebuild"] = time.monotonic() - mark
        record.judge()
    except DrError as exc:
        record.reason = str(exc)
        record.judge()
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
    return record
