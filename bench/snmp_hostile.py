"""Hostile input against a live SNMP poll cycle: fuzzed SNMPv3 datagrams
from one hostile agent among good devices; prints tried/survived/lost.

The hostile agent (tests/snmp/hostile.py) serves a vendor recording over
authPriv on 127.0.0.1; the good devices are net-snmp's snmpd in a network
namespace (v2c, v3 SHA/AES-128 over IPv4, v3 SHA-256/AES-256 over IPv6).
Each cycle applies one mutation of tests/snmp/fuzz.py (spoofs sent before
the honest answer, or broken answers sealed with the agent's key instead of
it) to every request of the hostile device. A datagram *survived* when its
cycle completed with every good device reading what a clean cycle read
and, for spoofs, the hostile device still reading its real data; otherwise
it is *lost*.

    sudo .venv/bin/python bench/snmp_hostile.py [--datagrams 5000] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitors.snmp.poller import Poller, PollerSettings  # noqa: E402
from tests.snmp.agents import NamespaceSnmpd, recordings_cache  # noqa: E402
from tests.snmp.fuzz import Fuzzer, fuzz_cycles  # noqa: E402
from tests.snmp.hostile import HostileAgent, vendor_recording  # noqa: E402
from tests.snmp.test_v3_fuzz import good_targets  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datagrams", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=600.0, help="stop earlier than this")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("snmp_hostile: needs root (snmpd runs in a network namespace)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as work:
        agent = NamespaceSnmpd(f"ywhostile{os.getpid() % 10000}", Path(work), subnet=244)
        try:
            agent.start()
            fuzzer = Fuzzer(random.Random(args.seed))
            with HostileAgent(vendor_recording(recordings_cache()), fuzzer) as hostile:
                settings = PollerSettings(timeout_s=0.5, retries=2, slow_s=30, routing=False)
                poller = Poller([hostile.target(), *good_targets(agent)], settings)
                started = time.monotonic()
                try:
                    tally = asyncio.run(
                        fuzz_cycles(poller, fuzzer, "hostile", args.datagrams, args.seconds)
                    )
                finally:
                    poller.close()
                elapsed = time.monotonic() - started
                stats = poller.transport.stats
        finally:
            agent.stop()
    report = {
        "tried": tally.tried,
        "survived": tally.survived,
        "lost": tally.lost,
        "cycles": tally.cycles,
        "seconds": round(elapsed, 1),
        "malformed": stats.malformed,
        "rejected": stats.rejected,
        "stray": stats.stray,
        "errors": {f"{d}:{k}": n for (d, k), n in sorted(poller.errors.items())},
        "by_mutation": tally.kinds,
        "failures": tally.failures[:20],
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"tried {tally.tried}  survived {tally.survived}  lost {tally.lost}  "
              f"({tally.cycles} cycles, {elapsed:.0f} s)")  # fmt: skip
        print(f"transport: malformed {stats.malformed}, rejected {stats.rejected}, "
              f"stray {stats.stray}")  # fmt: skip
        print("device errors:", report["errors"])
        for kind, count in tally.kinds.items():
            print(f"  {kind:24} {count:6}")
        for failure in tally.failures[:20]:
            print("LOST:", failure)
    return 0 if tally.lost == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
