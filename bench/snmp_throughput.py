"""Varbinds per CPU-second: yunwang's poller against Go's snmp_exporter and
net-snmp's snmpbulkwalk, in one run, against the same snmpd.

The agent is net-snmp's snmpd in a namespace with 2*PAIRS+1 interfaces (veth
pairs), so ifTable + ifXTable look like a big switch. Every tool walks the
same two subtrees (1.3.6.1.2.1.2.2 and 1.3.6.1.2.1.31.1.1) with
max-repetitions 25, ROUNDS times, tools interleaved per round; we report the
median per tool and the ratio to snmp_exporter. CPU is each tool's own CPU
time (ours: process_time of this process; snmp_exporter: utime+stime from
/proc; snmpbulkwalk: RUSAGE_CHILDREN), never wall time.

    sudo .venv/bin/python bench/snmp_throughput.py [--pairs 100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitors.snmp import ber  # noqa: E402
from monitors.snmp.poller import Poller, PollerSettings  # noqa: E402
from monitors.snmp.session import Credential, RetryPolicy, Target, open_session  # noqa: E402
from monitors.snmp.transport import UdpTransport  # noqa: E402
from monitors.snmp.walk import walk_subtree  # noqa: E402
from tests.snmp.agents import NamespaceSnmpd, free_udp_port  # noqa: E402

SUBTREES = ["1.3.6.1.2.1.2.2", "1.3.6.1.2.1.31.1.1"]
TICKS = os.sysconf("SC_CLK_TCK")

EXPORTER_MODULE = """
if_mib:
  version: {version}
  max_repetitions: 25
  retries: 1
  timeout: 5s
  auth: {auth}
  walk: [1.3.6.1.2.1.2.2, 1.3.6.1.2.1.31.1.1]
  metrics:
{metrics}
"""
COLUMNS = {  # name: (oid, type) for the exporter's metrics, numeric OIDs only
    "ifDescr": ("1.3.6.1.2.1.2.2.1.2", "DisplayString"),
    "ifType": ("1.3.6.1.2.1.2.2.1.3", "gauge"),
    "ifMtu": ("1.3.6.1.2.1.2.2.1.4", "gauge"),
    "ifSpeed": ("1.3.6.1.2.1.2.2.1.5", "gauge"),
    "ifPhysAddress": ("1.3.6.1.2.1.2.2.1.6", "PhysAddress48"),
    "ifAdminStatus": ("1.3.6.1.2.1.2.2.1.7", "gauge"),
    "ifOperStatus": ("1.3.6.1.2.1.2.2.1.8", "gauge"),
    "ifLastChange": ("1.3.6.1.2.1.2.2.1.9", "gauge"),
    "ifInOctets": ("1.3.6.1.2.1.2.2.1.10", "counter"),
    "ifInUcastPkts": ("1.3.6.1.2.1.2.2.1.11", "counter"),
    "ifInDiscards": ("1.3.6.1.2.1.2.2.1.13", "counter"),
    "ifInErrors": ("1.3.6.1.2.1.2.2.1.14", "counter"),
    "ifInUnknownProtos": ("1.3.6.1.2.1.2.2.1.15", "counter"),
    "ifOutOctets": ("1.3.6.1.2.1.2.2.1.16", "counter"),
    "ifOutUcastPkts": ("1.3.6.1.2.1.2.2.1.17", "counter"),
    "ifOutDiscards": ("1.3.6.1.2.1.2.2.1.19", "counter"),
    "ifOutErrors": ("1.3.6.1.2.1.2.2.1.20", "counter"),
    "ifName": ("1.3.6.1.2.1.31.1.1.1.1", "DisplayString"),
    "ifInMulticastPkts": ("1.3.6.1.2.1.31.1.1.1.2", "counter"),
    "ifInBroadcastPkts": ("1.3.6.1.2.1.31.1.1.1.3", "counter"),
    "ifOutMulticastPkts": ("1.3.6.1.2.1.31.1.1.1.4", "counter"),
    "ifOutBroadcastPkts": ("1.3.6.1.2.1.31.1.1.1.5", "counter"),
    "ifHCInOctets": ("1.3.6.1.2.1.31.1.1.1.6", "counter"),
    "ifHCInUcastPkts": ("1.3.6.1.2.1.31.1.1.1.7", "counter"),
    "ifHCInMulticastPkts": ("1.3.6.1.2.1.31.1.1.1.8", "counter"),
    "ifHCInBroadcastPkts": ("1.3.6.1.2.1.31.1.1.1.9", "counter"),
    "ifHCOutOctets": ("1.3.6.1.2.1.31.1.1.1.10", "counter"),
    "ifHCOutUcastPkts": ("1.3.6.1.2.1.31.1.1.1.11", "counter"),
    "ifHCOutMulticastPkts": ("1.3.6.1.2.1.31.1.1.1.12", "counter"),
    "ifHCOutBroadcastPkts": ("1.3.6.1.2.1.31.1.1.1.13", "counter"),
    "ifLinkUpDownTrapEnable": ("1.3.6.1.2.1.31.1.1.1.14", "gauge"),
    "ifHighSpeed": ("1.3.6.1.2.1.31.1.1.1.15", "gauge"),
    "ifPromiscuousMode": ("1.3.6.1.2.1.31.1.1.1.16", "gauge"),
    "ifConnectorPresent": ("1.3.6.1.2.1.31.1.1.1.17", "gauge"),
    "ifAlias": ("1.3.6.1.2.1.31.1.1.1.18", "DisplayString"),
    "ifCounterDiscontinuityTime": ("1.3.6.1.2.1.31.1.1.1.19", "gauge"),
}


def exporter_config(agent: NamespaceSnmpd, v3: bool) -> str:
    metrics = "".join(
        f"  - name: {name}\n    oid: {oid}\n    type: {kind}\n"
        "    indexes: [{labelname: ifIndex, type: gauge}]\n"
        for name, (oid, kind) in COLUMNS.items()
    )
    if v3:
        user, _a, auth_key, _p, priv_key = agent.users[0]
        auth = (
            f"{{username: {user}, security_level: authPriv, password: {auth_key}, "
            f"auth_protocol: SHA, priv_protocol: AES, priv_password: {priv_key}}}"
        )
    else:
        auth = f"{{community: {agent.community}}}"
    return EXPORTER_MODULE.format(version=3 if v3 else 2, auth=auth, metrics=metrics)


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def count_varbinds(agent: NamespaceSnmpd) -> int:
    total = 0
    for subtree in SUBTREES:
        out = subprocess.run(
            ["snmpbulkwalk", "-v2c", "-c", agent.community, "-Cr25", "-On", "-Oq",
             agent.address4, subtree],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        total += len(out.splitlines())
    return total


def bench_snmpbulkwalk(agent: NamespaceSnmpd, walks: int) -> float:
    before = children_cpu()
    for _ in range(walks):
        for subtree in SUBTREES:
            subprocess.run(
                ["snmpbulkwalk", "-v2c", "-c", agent.community, "-Cr25", "-On", "-Oq",
                 agent.address4, subtree],
                stdout=subprocess.DEVNULL, check=True,
            )  # fmt: skip
    return children_cpu() - before


def bench_exporter(pid: int, port: int, agent: NamespaceSnmpd, walks: int) -> float:
    url = f"http://127.0.0.1:{port}/snmp?target={agent.address4}&module=if_mib"
    before = proc_cpu(pid)
    for _ in range(walks):
        with urllib.request.urlopen(url, timeout=30) as answer:
            body = answer.read()
        if b"ifHCInOctets" not in body:
            raise RuntimeError(f"snmp_exporter returned no interface metrics: {body[:300]!r}")
    return proc_cpu(pid) - before


async def _walks(credential: Credential, host: str, walks: int, engine: str) -> int:
    transport = UdpTransport()
    session = open_session(
        Target("bench", host, credential),
        transport,
        RetryPolicy(5.0, 1),
        None,
        engine,  # type: ignore[arg-type]
    )
    count = 0
    for _ in range(walks):
        for subtree in SUBTREES:
            count += await walk_subtree(session, ber.oid_from_str(subtree), 25)
    transport.close()
    return count


def bench_ours(
    credential: Credential, host: str, walks: int, engine: str = "fast"
) -> tuple[float, int]:
    before = time.process_time()
    count = asyncio.run(_walks(credential, host, walks, engine))
    return time.process_time() - before, count


def bench_poller(
    agent: NamespaceSnmpd, credential: Credential, devices: int, cycles: int
) -> tuple[float, int]:
    """The whole product path: Poller over DEVICES logical devices (same
    agent), counters + names + routing columns, tables, rates."""
    targets = [Target(f"d{i}", agent.address4, credential) for i in range(devices)]
    poller = Poller(targets, PollerSettings(timeout_s=5, retries=1, names_every=10))

    async def run() -> int:
        total = 0
        for _ in range(cycles):
            total += sum(p.varbinds for p in await poller.poll())
        poller.close()
        return total

    before = time.process_time()
    total = asyncio.run(run())
    return time.process_time() - before, total


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=100, help="veth pairs in the agent")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--walks", type=int, default=10, help="walks per tool per round")
    parser.add_argument("--devices", type=int, default=3100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ywsnmp-bench-"))
    agent = NamespaceSnmpd("ywsnmp-bench", work / "snmpd", subnet=242)
    exporter: subprocess.Popen[bytes] | None = None
    try:
        agent.start()
        for i in range(args.pairs):
            subprocess.run(["ip", "-n", agent.name, "link", "add", f"p{i}a", "type", "veth",
                            "peer", "name", f"p{i}b"], check=True)  # fmt: skip
        time.sleep(6)  # snmpd caches the interface list
        varbinds = count_varbinds(agent)
        results: dict[str, list[float]] = {}
        configs = {}
        for v3 in (False, True):
            config = work / f"snmp-{'v3' if v3 else 'v2c'}.yml"
            config.write_text(exporter_config(agent, v3))
            configs[v3] = config
        user, _a, auth_key, _p, priv_key = agent.users[0]
        v2c = Credential(2, community=agent.community)
        v3c = Credential(3, user=user, auth_key=auth_key, priv_key=priv_key)
        for v3 in (False, True):
            port = free_udp_port()
            exporter = subprocess.Popen(
                ["prometheus-snmp-exporter", f"--config.file={configs[v3]}",
                 f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(1.0)
            bench_exporter(exporter.pid, port, agent, 1)  # warm-up
            tag = "v3" if v3 else "v2c"
            for _ in range(args.rounds):
                cpu = bench_exporter(exporter.pid, port, agent, args.walks)
                results.setdefault(f"snmp_exporter {tag}", []).append(varbinds * args.walks / cpu)
                credential = v3c if v3 else v2c
                cpu, seen = bench_ours(credential, agent.address4, args.walks)
                results.setdefault(f"yunwang {tag}", []).append(seen / cpu)
                cpu, seen = bench_poller(agent, credential, 20, 3)
                results.setdefault(f"yunwang poller {tag} (20 devices)", []).append(seen / cpu)
                if v3:
                    # pysnmp's own engine on the same walk: the starting point.
                    cpu, seen = bench_ours(credential, agent.address4, 1, "pysnmp")
                    results.setdefault("pysnmp engine v3", []).append(seen / cpu)
                else:
                    cpu = bench_snmpbulkwalk(agent, args.walks)
                    results.setdefault("snmpbulkwalk v2c", []).append(varbinds * args.walks / cpu)
            exporter.terminate()
            exporter.wait(10)
            exporter = None
        medians = {name: statistics.median(values) for name, values in results.items()}
        peer = medians["snmp_exporter v2c"]
        # Projection: a typical estate device (median of the six vendor
        # recordings: 54 interfaces), 12 counter columns per poll, names every
        # 10th poll (4 columns), system group and the OSPF columns.
        per_device = 4 + 54 * (12 + 4 / 10) + 4
        per_minute = args.devices * per_device
        projection = {
            name: per_minute / 60 / rate
            for name, rate in medians.items()
            if name.startswith(("yunwang poller", "pysnmp"))
        }
        report = {
            "agent_interfaces": 2 * args.pairs + 2,
            "varbinds_per_walk": varbinds,
            "rounds": args.rounds,
            "median_varbinds_per_cpu_second": {k: round(v) for k, v in medians.items()},
            "ratio_to_snmp_exporter_v2c": {k: round(v / peer, 2) for k, v in medians.items()},
            "ratio_to_snmp_exporter_same_version": {
                k: round(v / medians[f"snmp_exporter {'v3' if 'v3' in k else 'v2c'}"], 2)
                for k, v in medians.items()
                if not k.startswith("snmp_exporter")
            },
            "projection_devices": args.devices,
            "projection_varbinds_per_device_poll": round(per_device),
            "projection_cores_at_one_poll_per_minute": {
                k: round(v, 3) for k, v in projection.items()
            },
        }
        print(json.dumps(report, indent=2))
    finally:
        if exporter is not None:
            exporter.terminate()
            exporter.wait(10)
        agent.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
