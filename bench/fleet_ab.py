"""bench/fleet.py on an older tree against this one, alternating, on one Elasticsearch node.

    .venv/bin/python bench/fleet_ab.py --old 301f59c --rounds 5 --events 100000 --scans 600

REV's tree is exported with `git archive` into a temporary directory; each
measurement is its own process running this tree's bench/fleet.py with that
tree's product code first on its path (YUNWANG_BENCH_TREE), so both trees are
measured by the same bench. Rounds alternate which tree goes first, and the
throughput peer (raw `helpers.bulk`) alternates between before and after the
watch path: a slow minute on the shared machine lands on both sides. Every
measurement records the load average around it; medians per tree at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ES = REPO / "ci" / "elasticsearch"
METRICS = {
    "latency": ("p50", "p99", "max"),
    "throughput": ("watch", "raw", "ratio"),
}


def measure(tree: Path, url: str, part: str, args: argparse.Namespace, flip: bool) -> dict:
    command = [sys.executable, str(REPO / "bench" / "fleet.py"), "--url", url, "--only", part]
    command += ["--json", "--events", str(args.events), "--scans", str(args.scans)]
    command += ["--rate", str(args.rate)] + (["--raw-first"] if flip else [])
    command += ["--graded"] if args.graded else []
    env = {**os.environ, "YUNWANG_BENCH_TREE": str(tree)}
    before = os.getloadavg()[0]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{tree} {part}: {done.stderr.strip()[-2000:]}")
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = max(before, os.getloadavg()[0])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--old", required=True, help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--scans", type=int, default=600)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--graded", action="store_true", help="throughput: events rules match")
    parser.add_argument("--only", choices=tuple(METRICS))
    parser.add_argument("--url", help="an Elasticsearch node already running")
    args = parser.parse_args()
    parts = [args.only] if args.only else list(METRICS)
    with tempfile.TemporaryDirectory(prefix="ywbench-old-") as tmp:
        old = Path(tmp)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", args.old], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        trees = {"old": old, "new": REPO}
        node = Path(f"/tmp/yunwang-es-ab-{os.getpid()}")
        url = args.url
        if url is None:
            from bench.fleet import free_port

            port = free_port()
            subprocess.run(
                [str(ES / "start.sh"), "--dir", str(node), "--port", str(port)], check=True
            )
            url = f"http://127.0.0.1:{port}"
        results: dict[tuple[str, str], list[dict]] = {}
        try:
            for n in range(args.rounds):
                order = ("old", "new") if n % 2 == 0 else ("new", "old")
                for part in parts:
                    for name in order:
                        r = measure(trees[name], url, part, args, flip=n % 2 == 1)
                        results.setdefault((name, part), []).append(r)
                        shown = ", ".join(f"{k} {r[k]:.2f}" for k in (*METRICS[part], "load"))
                        print(f"round {n + 1} {part} {name}: {shown}", flush=True)
        finally:
            if args.url is None:
                subprocess.run([str(ES / "stop.sh"), "--dir", str(node)], check=False)
    print(f"\n## old ({args.old}) against new, {args.rounds} rounds, medians")
    print("| part | metric | old | new | new/old |")
    print("|---|---|---:|---:|---:|")
    for part in parts:
        for metric in (*METRICS[part], "load"):
            o = statistics.median(r[metric] for r in results[("old", part)])
            w = statistics.median(r[metric] for r in results[("new", part)])
            print(f"| {part} | {metric} | {o:.2f} | {w:.2f} | {w / o:.2f} |")


if __name__ == "__main__":
    main()
