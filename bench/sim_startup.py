"""How long the simulated estate takes to start, and how fast it serves.

    .venv/bin/python bench/sim_startup.py [--runs 3]

Startup: SimulatedEstate start-up until the first device answers an SNMPv3
GET, cold (fresh $YUNWANG_HOME: files generated and indexed) and warm
(cache reused), for examples/small.yaml (every level) and
examples/puyang.yaml at county+township level. Medians of --runs.

Serving: varbinds/s of GETBULK requests (v3 authPriv, pysnmp, 50 repetitions
from ifTable) to a generated device, whose counters and status are computed per request by
snmpsim's `numeric` module, against the peer: the same snmpsim serving the
real Huawei S5720 recording (static values), asked the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import bz2
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from estate import load  # noqa: E402
from monitors.sim import SimCredential, SimulatedEstate  # noqa: E402
from monitors.sim.probe import hl, user_data  # noqa: E402
from monitors.sim.runner import free_udp_port, responder_binary  # noqa: E402
from monitors.sim.vendors import data_dir  # noqa: E402

TABLES = ("1.3.6.1.2.1.2.2", "1.3.6.1.2.1.31.1.1")


def startup(path: str, levels: tuple[str, ...], cold: bool, home: Path) -> float:
    estate = load(ROOT / path)
    with tempfile.TemporaryDirectory() as fresh:
        os.environ["YUNWANG_HOME"] = fresh if cold else str(home)
        with SimulatedEstate(estate, "demo", levels=levels) as sim:  # type: ignore[arg-type]
            assert sim.startup_s is not None
            return sim.startup_s


def walk_rate(host: str, port: int, context: str, cred: tuple[str, str, str], rounds: int) -> float:
    """varbinds/s of GETBULK (50 repetitions from ifTable) with pysnmp, in one process."""
    user, auth, priv = cred
    credential = SimCredential("bench", user, "sha256", auth, "aes128", priv)

    async def run() -> float:
        engine = hl.SnmpEngine()
        target = await hl.UdpTransportTarget.create((host, port), timeout=2, retries=1)
        varbinds = 0
        began = time.perf_counter()
        for _ in range(rounds):
            error, status, _index, binds = await hl.bulk_cmd(
                engine, user_data(credential), target, hl.ContextData(contextName=context),
                0, 50, hl.ObjectType(hl.ObjectIdentity(TABLES[0])), lookupMib=False,
            )  # fmt: skip
            assert not error and not status, error or status
            varbinds += len(binds)
        engine.close_dispatcher()
        return varbinds / (time.perf_counter() - began)

    return asyncio.run(run())


def peer_rate(work: Path, rounds: int) -> float:
    """snmpsim serving the recorded S5720 (only the walked tables), same credentials."""
    data = work / "peer"
    data.mkdir()
    source = data_dir() / "network/router/huawei-s5720.snmprec.bz2"
    with bz2.open(source, "rt", encoding="utf-8", errors="surrogateescape") as lines:
        kept = [line for line in lines if line.startswith(tuple(t + "." for t in TABLES))]
    (data / "s5720.snmprec").write_text("".join(kept), encoding="utf-8", errors="surrogateescape")
    port = free_udp_port("127.0.0.1")
    args = work / "peer.args"
    args.write_text(
        "--v3-user=bench --v3-auth-key=bench-auth-key --v3-auth-proto=SHA256 "
        f"--v3-priv-key=bench-priv-key --v3-priv-proto=AES --agent-udpv4-endpoint=127.0.0.1:{port}\n"
    )
    env = dict(os.environ, SNMPSIM_ALLOW_ROOT="true")
    process = subprocess.Popen(
        [responder_binary(), f"--data-dir={data}", f"--cache-dir={work / 'idx'}", "--v3-only",
         "--log-level=error", f"--args-from-file={args}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        for _ in range(300):
            probe = subprocess.run(
                ["snmpget", "-v3", "-l", "authPriv", "-u", "bench", "-a", "SHA-256", "-A",
                 "bench-auth-key", "-x", "AES", "-X", "bench-priv-key", "-n", "s5720", "-t", "0.5",
                 "-r", "0", f"127.0.0.1:{port}", "1.3.6.1.2.1.2.2.1.1.1"],
                capture_output=True, check=False,
            )  # fmt: skip
            if probe.returncode == 0:
                break
            time.sleep(0.2)
        return walk_rate(
            "127.0.0.1", port, "s5720", ("bench", "bench-auth-key", "bench-priv-key"), rounds
        )
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        for path, levels in (("examples/small.yaml", ("city", "county", "township", "village")),
                             ("examples/puyang.yaml", ("county", "township"))):  # fmt: skip
            home = work / f"home-{Path(path).stem}"
            home.mkdir()
            startup(path, levels, cold=False, home=home)  # fill the warm cache
            cold = [startup(path, levels, True, home) for _ in range(args.runs)]
            warm = [startup(path, levels, False, home) for _ in range(args.runs)]
            print(f"{path} {'+'.join(levels)}: start-up cold median {statistics.median(cold):.2f}s "
                  f"{[round(c, 2) for c in cold]}, warm median {statistics.median(warm):.2f}s "
                  f"{[round(w, 2) for w in warm]}")  # fmt: skip
        os.environ["YUNWANG_HOME"] = str(work / "home-small")
        os.environ["YUNWANG_SNMP_AUTH"] = "bench-auth-key"
        os.environ["YUNWANG_SNMP_PRIV"] = "bench-priv-key"
        estate = load(ROOT / "examples/small.yaml")
        ours, peers = [], []
        with SimulatedEstate(estate, "demo") as sim:
            host, port, context = sim.targets()["py-core-1"]
            for _ in range(args.runs):
                ours.append(
                    walk_rate(
                        host,
                        port,
                        context,
                        ("yunwang", "bench-auth-key", "bench-priv-key"),
                        args.rounds,
                    )
                )
        for run in range(args.runs):
            run_dir = work / f"peer-{run}"
            run_dir.mkdir()
            peers.append(peer_rate(run_dir, args.rounds))
        o, p = statistics.median(ours), statistics.median(peers)
        print(
            f"serving (pysnmp GETBULK x50 from ifTable, v3 authPriv): generated {o:.0f} varbinds/s, "
            f"recorded S5720 peer {p:.0f} varbinds/s, ratio {o / p:.2f}"
        )


if __name__ == "__main__":
    main()
