"""DR drills measured: achieved RPO/RTO async vs sync, restore vs restic by hand,
and how soon a blackholed replication line shows.

    YUNWANG_ROOTFS=... .venv/bin/python bench/dr_drill.py [--runs 3] [--rate 100] [--mib 64]

Brings up a lab of the small estate with its DR centre as a site of its own
(root), sets up streaming replication from the gold system's cloud host to
`dr-h1` in the DR centre, across the `dr/replication` line, and runs
`--runs` failover drills with asynchronous then synchronous commit at
`--rate` commits/s (each drill fails over and rebuilds, so runs alternate
direction). Then backs up a `--mib` MiB file plus the database with restic
and restores it on `dr-h2` `--runs` times through the restore drill
and `--runs` times by hand (`restic restore latest`, the peer). Then
blackholes the line `--runs` times: seconds until yunwang's lag reading
exceeds a 1 s RPO, against PostgreSQL's own view on the primary
(`pg_stat_replication` dropping the standby, the peer), and until the lag
is back within once the line is restored. Prints medians; tears the lab down.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dr.backup import ResticLine, restore_drill
from dr.failover import failover_drill
from dr.lag import LagWatch, Watched
from dr.pair import RESTIC_REF, DrPair, orient, psql, resolve, secrets, ssh
from dr.record import DrillRecord
from estate.model import DrClass, System
from lab.drsite import LINK
from lab.lab import Lab, load_estate
from lab.testing import TEST_SECRETS
from tests.dr.conftest import DR_TEST_SECRETS, SCRATCH, SMALL, STANDBY


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.3f}"


def _until(ready: Callable[[], bool], since: float, timeout_s: float = 60.0) -> float:
    while not ready():
        if time.monotonic() - since > timeout_s:
            return float("inf")
        time.sleep(0.1)
    return time.monotonic() - since


def _blackholes(lab: Lab, pair: DrPair, system: System, gold: DrClass, runs: int) -> None:
    tight = replace(gold, rpo_s=1.0)
    watch = LagWatch(lab, [Watched(system, tight, pair.standby)], lambda _: None)
    peer_sql = (
        "SELECT count(*) FROM pg_stat_replication "
        f"WHERE application_name = '{pair.standby}' AND state = 'streaming'"
    )
    seen, peer, back = [], [], []
    for _ in range(runs):
        pair.wait_streaming()
        lab.blackhole(LINK)
        started = time.monotonic()
        seen.append(_until(lambda: watch.check()[0].outcome == "failure", started))
        peer.append(_until(lambda: psql(lab, pair.primary, peer_sql) == "0", started))
        lab.restore(LINK)
        started = time.monotonic()
        back.append(_until(lambda: watch.check()[0].outcome == "success", started))
    print(f"\nreplication line blackholed, {runs} runs, RPO 1 s, standby {pair.standby}")
    print("| what | median s |")
    print("|---|---:|")
    print(f"| yunwang lag > RPO (read from the standby) | {_median(seen)} |")
    print(f"| primary's pg_stat_replication drops the standby (peer) | {_median(peer)} |")
    print(f"| line restored -> lag within RPO again | {_median(back)} |")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--mib", type=int, default=64)
    args = parser.parse_args()
    estate = load_estate(SMALL)
    directory = Path(tempfile.mkdtemp(prefix="yw-dr-bench-"))
    lab = Lab.up(
        SMALL,
        directory=directory,
        counties=1,
        townships=1,
        villages=0,
        hosts=2,
        dr_hosts=2,
        bfd_ms=300,
        secrets=TEST_SECRETS,
    )
    try:
        tenant, code = str(lab.hosts[0].system).split("/")
        system = next(s for s in estate.systems(tenant) if s.code == code)
        gold = estate.dr.classes[str(system.dr_class)]
        print(f"system {tenant}/{code} class {gold.name}; write rate {args.rate:g} commits/s")
        print("| commit | drills | passed | RPO median s | RTO median s | drill wall median s |")
        print("|---|---:|---:|---:|---:|---:|")
        for sync in (False, True):
            pair = DrPair(lab, lab.hosts[0].name, STANDBY, secrets(DR_TEST_SECRETS), sync=sync)
            orient(pair)  # an odd number of drills leaves the pair the other way round
            pair.setup()
            rpo, rto, wall, passed = [], [], [], 0
            for _ in range(args.runs):
                record = DrillRecord.begin(system, gold, "failover", "bench", datetime.now(UTC))
                started = time.monotonic()
                failover_drill(pair, record, rate=args.rate)
                wall.append(time.monotonic() - started)
                passed += record.passed
                rpo.append(record.achieved_rpo_s if record.achieved_rpo_s is not None else -1)
                rto.append(record.achieved_rto_s if record.achieved_rto_s is not None else -1)
                if not record.passed:
                    print(f"  failed: {record.reason}")
            mode = "synchronous" if sync else "asynchronous"
            print(
                f"| {mode} | {args.runs} | {passed} | {_median(rpo)} | {_median(rto)} "
                f"| {_median(wall)} |"
            )
            pair.close()

        source, scratch = pair.primary, SCRATCH
        line = ResticLine(
            lab, pair.standby, f"{tenant}/{code}", resolve(RESTIC_REF, DR_TEST_SECRETS)
        )
        ssh(
            lab,
            source,
            f"install -d /srv/app-data && head -c {args.mib}M /dev/urandom > /srv/app-data/blob",
        )
        line.backup(source, ("/srv/app-data",))
        line.authorise(scratch)
        drill_s, hand_s = [], []
        for _ in range(args.runs):
            record = DrillRecord.begin(system, gold, "restore", "bench", datetime.now(UTC))
            restore_drill(line, scratch, record)
            if not record.passed:
                print(f"  restore drill failed: {record.reason}")
            drill_s.append(record.steps.get("restore", -1))
            ssh(lab, scratch, "rm -rf /srv/by-hand")
            started = time.monotonic()
            line.restic(scratch, "restore latest --target /srv/by-hand")
            hand_s.append(time.monotonic() - started)
        mib = float(args.mib)
        print(f"\nrestore of {args.mib} MiB + dump, {args.runs} runs each, on {scratch}")
        print("| restore | median s | MiB/s |")
        print("|---|---:|---:|")
        for name, values in (
            ("restore drill (restore step)", drill_s),
            ("restic restore by hand", hand_s),
        ):
            print(f"| {name} | {_median(values)} | {mib / statistics.median(values):.1f} |")
        print(f"ratio drill/by hand: {statistics.median(drill_s) / statistics.median(hand_s):.2f}")
        _blackholes(lab, pair, system, gold, args.runs)
    finally:
        lab.down()
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
