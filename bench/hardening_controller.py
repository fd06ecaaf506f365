"""What a 20-host `yunwang harden --check` costs the controller alone, against
an older commit's role in the same run.

    .venv/bin/python bench/hardening_controller.py --runs 3 [--before COMMIT] [--hosts 20]

The hosts are 20 level-3 hosts of examples/puyang.yaml, every one pointed at
127.0.0.1 port 1 (refused; nothing leaves loopback): Ansible templates and
dispatches every task of the play for every host, the check task's
arguments included, and finds the host unreachable where the check would
start. What is left is the controller's own work (ansible-playbook and its
forks, through ansible-runner): CPU seconds of the child processes, which
the shared machine's load does not inflate the way it does wall time.
Runs alternate between --before (a `git archive` of it) and this tree.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_ONE_RUN = """
import json, sys
from estate import load
from playbooks.inventory import Policy, estate_targets
from playbooks.runner import run_playbook
targets = estate_targets(load(sys.argv[1]), Policy())
names = [h for h, t in targets.hosts.items() if t.level == 3][: int(sys.argv[2])]
inventory = targets.inventory()
inventory["all"]["hosts"] = {
    h: {**inventory["all"]["hosts"][h], "ansible_host": "127.0.0.1", "ansible_port": 1}
    for h in names
}
seen = []
run_playbook("harden.yml", inventory, extravars={"mlps_mode": "check"}, on_event=seen.append)
print(json.dumps(sum(e.get("event") == "runner_on_unreachable" for e in seen)))
"""


def _run(root: Path, hosts: int) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _ONE_RUN, str(REPO / "examples" / "puyang.yaml"), str(hosts)],
        cwd=root, capture_output=True, text=True, timeout=900, check=True,
    )  # fmt: skip
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if int(done.stdout.strip() or 0) != hosts:
        raise SystemExit(f"{root}: expected {hosts} unreachable hosts, got {done.stdout!r}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--before", default="HEAD")
    args = parser.parse_args()
    old = Path(tempfile.mkdtemp(prefix="yunwang-bench-before-"))
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", args.before], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
    times: dict[str, list[tuple[float, float]]] = {"before": [], "now": []}
    try:
        for _ in range(args.runs):
            times["before"].append(_run(old, args.hosts))
            times["now"].append(_run(REPO, args.hosts))
    finally:
        shutil.rmtree(old, ignore_errors=True)
    for name, runs in times.items():
        walls = ", ".join(f"{w:.1f}" for w, _ in runs)
        cpus = ", ".join(f"{c:.1f}" for _, c in runs)
        print(
            f"{name:7} CPU s median {statistics.median(c for _, c in runs):5.1f} ({cpus}); "
            f"wall s median {statistics.median(w for w, _ in runs):5.1f} ({walls})"
        )
    ratio = statistics.median(c for _, c in times["now"]) / statistics.median(
        c for _, c in times["before"]
    )
    print(f"controller CPU now / before ({args.before}): {ratio:.2f}")


if __name__ == "__main__":
    main()
