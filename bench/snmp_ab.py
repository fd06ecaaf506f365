"""Did a change make the SNMP poller slower? Two source trees (e.g. the
commit before a change, unpacked with `git archive`, and the work tree)
measured against the same snmpd, interleaved, each round in a fresh process.

Each round runs, per tree: bench/snmp_throughput.py's `bench_poller` (20
logical devices, 3 cycles) and `bench_ours` (3 raw ifTable+ifXTable walks),
v2c and v3 authPriv, as varbinds per CPU-second of that process. Prints the
medians and new/old. Both trees must contain bench/snmp_throughput.py.

    mkdir /tmp/old && git archive BASE | tar -x -C /tmp/old
    sudo .venv/bin/python bench/snmp_ab.py /tmp/old . --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.snmp.agents import NamespaceSnmpd  # noqa: E402

AGENT = ("ywsnmp-ab", 245)  # namespace name, subnet
CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
from bench.snmp_throughput import bench_ours, bench_poller
from monitors.snmp.session import Credential
from tests.snmp.agents import NamespaceSnmpd
agent = NamespaceSnmpd(sys.argv[2], None, subnet=int(sys.argv[3]))
user, _auth, auth_key, _priv, priv_key = agent.users[0]
out = {}
for tag, credential in (("v2c", Credential(2, community=agent.community)),
                        ("v3", Credential(3, user=user, auth_key=auth_key, priv_key=priv_key))):
    cpu, varbinds = bench_poller(agent, credential, 20, 3)
    out["poller " + tag] = varbinds / cpu
    cpu, varbinds = bench_ours(credential, agent.address4, 3)
    out["walk " + tag] = varbinds / cpu
print(json.dumps(out))
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=100, help="veth pairs in the agent")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("snmp_ab: needs root (snmpd runs in a network namespace)", file=sys.stderr)
        return 2
    name, subnet = AGENT
    results: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory() as work:
        agent = NamespaceSnmpd(name, Path(work), subnet=subnet)
        try:
            agent.start()
            for i in range(args.pairs):
                subprocess.run(["ip", "-n", name, "link", "add", f"p{i}a", "type", "veth",
                                "peer", "name", f"p{i}b"], check=True)  # fmt: skip
                for end in ("a", "b"):
                    subprocess.run(
                        ["ip", "-n", name, "link", "set", f"p{i}{end}", "up"], check=True
                    )
            time.sleep(6)  # snmpd refreshes its interface table every 5 s
            for round_ in range(args.rounds):
                for tag, tree in (("old", args.old), ("new", args.new)):
                    run = subprocess.run(
                        [sys.executable, "-c", CHILD, str(tree.resolve()), name, str(subnet)],
                        capture_output=True, text=True, cwd=tree, check=False,
                    )  # fmt: skip
                    if run.returncode:
                        print(f"snmp_ab: {tree}: {run.stderr.strip()[-500:]}", file=sys.stderr)
                        return 1
                    results[tag].append(json.loads(run.stdout.splitlines()[-1]))
                    print(round_, tag, {k: round(v) for k, v in results[tag][-1].items()})
        finally:
            agent.stop()
    print(f"{'varbinds/CPU-s':16} {'old':>9} {'new':>9}  new/old")
    for key in results["old"][0]:
        old = statistics.median(r[key] for r in results["old"])
        new = statistics.median(r[key] for r in results["new"])
        print(f"{key:16} {old:9.0f} {new:9.0f}  {new / old:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
