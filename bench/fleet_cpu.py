"""Where the CPU of bench/fleet.py's throughput goes: this process against the Elasticsearch node.

    ci/elasticsearch/start.sh --dir /tmp/es-bench --port 19250
    .venv/bin/python bench/fleet_cpu.py --url http://127.0.0.1:19250 --pid-file /tmp/es-bench/es.pid

Runs the throughput part's two contenders (events through a running `Watch`
into Elasticsearch, and raw `helpers.bulk` of the same events) --rounds
times, alternating, each into a fresh data stream, and prints for each run
its events/s and the CPU microseconds per event of this process (the
product's Python: pipeline, store, sender; or the raw loop) and of the
Elasticsearch JVM (/proc/PID/stat). A run whose Python costs more per event
than the peer's, or whose documents cost the node more, shows which side
to work on; the ratio alone does not.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fleet


def jvm_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="an Elasticsearch node already running")
    parser.add_argument("--pid-file", type=Path, required=True, help="its es.pid (start.sh)")
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pid = int(args.pid_file.read_text())
    events = [fleet.event(n) for n in range(args.events)]
    for e in events:
        _ = e.id  # both contenders start from hashed events, as in fleet.py
    home = Path(tempfile.mkdtemp(prefix="fleet-cpu-"))
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("| round | contender | events/s | Python µs/event | Elasticsearch µs/event |")
    print("|---|---|---:|---:|---:|")
    for round_ in range(1, args.rounds + 1):
        for name, run in (("watch", fleet._through_watch), ("raw", fleet._raw_bulk)):
            jvm, own = jvm_cpu_s(pid), own_cpu_s()
            rate = run(args.url, home, events, f"r{round_}")  # a data stream of its own
            python_us = 1e6 * (own_cpu_s() - own) / args.events
            jvm_us = 1e6 * (jvm_cpu_s(pid) - jvm) / args.events
            print(
                f"| {round_} | {name} | {rate:,.0f} | {python_us:.1f} | {jvm_us:.1f} |", flush=True
            )
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
