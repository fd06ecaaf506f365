"""The sensor on two captures (bench/packets_bench.py's and one with a
deliberately different mix), in process and as a whole command, on 1 and
N processes, compiled and interpreted, next to `tshark -r` in the same run;
and start-up.

    .venv/bin/python bench/packets_mix.py [--estate examples/puyang.yaml]
        [--connections 6000] [--bench-connections 8000] [--workers 2] [--repeat 3]
        [--pcap FILE ...]

The capture (built once, cached in $YUNWANG_HOME/cache): TCP sessions with
full option sets (MSS, SACK, timestamps, window scale) and 200-1400 byte
payloads, DNS queries and answers, IPv4 fragments (first, middle, last),
a third of the frames VLAN-tagged, and many flows crossing zones: allowed
ones into the exchange zone and a forbidden-flow storm (every client tries
tcp/22, tcp/445 and tcp/3389 on many exchange servers).

Measures, per capture: packets per CPU-second and per wall-second of the
sensor in process (read + decode + every detection) on one process, the
same with every frame decoded (what the fast path saves), and sharded over
--workers forked processes (CPU of all of them; what N cores give, the
busiest worker against one, is bench/packets_shards.py's to measure: here
the workers fork from a process holding the estate, the capture builders
and every contender's leftovers, and take more copy-on-write faults than
the command's do, bench/RESULTS.md), of the whole
`yunwang sense --pcap FILE ESTATE --json [--workers N]` command (CPU of the
children, start-up included; also interpreted, `YUNWANG_COMPILED=0`) and of
`tshark -n -r FILE`, medians over
--repeat rounds with the contenders alternating; then the command's
start-up: exec to exit on a one-packet capture with the policy cached.
The load average is printed before and after: the machine is shared.
In process, the sensor is the one this process loaded: compiled after
`make compile` (monitors/packets/compiled.py), as it prints.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.packets_bench import build_capture as build_bench_capture  # noqa: E402
from bench.packets_bench import cache_dir, endpoints, timed  # noqa: E402
from estate import load  # noqa: E402
from monitors.packets import Sensor, SensorPolicy, compiled, read_capture  # noqa: E402
from monitors.packets.capture import PcapWriter  # noqa: E402
from monitors.packets.parallel import sense_file  # noqa: E402
from monitors.packets.policy_cache import policy_for  # noqa: E402
from monitors.packets.sensor import settle_memory  # noqa: E402
from monitors.packets.synthetic import varied_traffic  # noqa: E402


def build_capture(estate_path: Path, connections: int, seed: int = 13, name: str = "mix") -> Path:
    """The varied mix (`synthetic.varied_traffic`), built once into the cache;
    another `seed` and `name` give a capture of the same kind never measured before."""
    path = cache_dir() / f"bench-packets-{name}-{estate_path.stem}-{connections}.pcap"
    if path.exists():
        return path
    estate = load(estate_path)
    clients, servers = endpoints(estate, "gov-extranet")
    _, exchange = endpoints(estate, "exchange")
    partial = path.with_suffix(".tmp")
    with PcapWriter(partial) as writer:
        for ts, frame in varied_traffic(clients, servers, exchange, connections, seed=seed):
            writer.write(ts, frame)
    partial.rename(path)
    return path


def first_packet(estate_path: Path, pcap: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of `yunwang sense --pcap` on a one-packet capture:
    exec to exit, so start-up to the first packet plus a summary line."""
    one = pcap.with_suffix(".one.pcap")
    if not one.exists():
        with PcapWriter(one) as writer:
            ts, frame, _ = next(iter(read_capture(pcap)))
            writer.write(ts, frame)

    def run() -> int:
        subprocess.run(_sense(estate_path, one, 1), stdout=subprocess.DEVNULL, check=True)
        return 1

    _, cpu, wall = timed(run)
    return wall, cpu


def _sense(estate_path: Path, pcap: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "yunwang", "sense", "--pcap", str(pcap), str(estate_path),
            "--json", "--workers", str(workers)]  # fmt: skip


def _contenders(
    estate_path: Path,
    pcap: Path,
    policy: SensorPolicy,
    total: int,
    workers: int,
) -> dict[str, Callable[[], int]]:
    """The runs to time."""

    def in_process() -> int:
        sensor = Sensor(policy, observer="bench", keep_events=True)
        sensor.feed_all(read_capture(pcap))
        sensor.close()
        return sensor.stats.seen

    def full_decode() -> int:
        """Every frame decoded and fed whole: the sensor without its fast path."""
        sensor = Sensor(policy, observer="bench", keep_events=True)
        sensor.feed_all_decoded(read_capture(pcap))
        sensor.close()
        return sensor.stats.seen

    def in_process_sharded() -> int:
        _, outcome = sense_file(lambda: Sensor(policy, observer="bench"), pcap, workers)
        return outcome.stats.seen

    def command(n: int, built: bool = True) -> Callable[[], int]:
        env = {**os.environ, "YUNWANG_COMPILED": "1" if built else "0"}

        def run() -> int:
            subprocess.run(
                _sense(estate_path, pcap, n), stdout=subprocess.DEVNULL, check=True, env=env
            )
            return total

        return run

    def tshark() -> int:
        subprocess.run(["tshark", "-n", "-r", str(pcap)], stdout=subprocess.DEVNULL, check=True)
        return total

    runs: dict[str, Callable[[], int]] = {
        "sensor in process, 1 process": in_process,
        "the same, every frame decoded (no fast path)": full_decode,
        f"sensor in process, {workers} processes": in_process_sharded,
        "`yunwang sense --pcap` command, 1 process": command(1),
        "the same command, interpreted (`YUNWANG_COMPILED=0`)": command(1, built=False),
        f"`yunwang sense --pcap --workers {workers}` command": command(workers),
    }
    if shutil.which("tshark"):
        runs["`tshark -n -r`"] = tshark
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--estate", type=Path, default=ROOT / "examples" / "puyang.yaml")
    parser.add_argument("--connections", type=int, default=6000)
    parser.add_argument("--bench-connections", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pcap", type=Path, nargs="*", default=[], help="more captures")
    args = parser.parse_args()
    estate = load(args.estate)
    captures = {
        "mix": build_capture(args.estate, args.connections),
        "bench": build_bench_capture(estate, args.estate, args.bench_connections),
        **{path.stem: path for path in args.pcap},
    }
    policy = policy_for(args.estate, lambda path: estate)  # also fills the command's cache
    settle_memory(reading_file=True)
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"sensor in process: {'compiled' if compiled.in_use() else 'interpreted'}")
    for label, pcap in captures.items():
        total = sum(1 for _ in read_capture(pcap))
        runs = _contenders(args.estate, pcap, policy, total, args.workers)
        cpu_rates: dict[str, list[float]] = {name: [] for name in runs}
        wall_rates: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeat):
            for name, run in runs.items():
                frames, cpu, wall = timed(run)
                cpu_rates[name].append(frames / cpu)
                wall_rates[name].append(frames / wall)
        peer = statistics.median(cpu_rates.get("`tshark -n -r`", [0.0])) or None
        print(f"\n{label}: {pcap.name}, {total} frames; {args.repeat} rounds, medians")
        print("| contender | packets/CPU-s | packets/wall-s | ÷ tshark (CPU) |")
        print("|---|---:|---:|---:|")
        for name in runs:
            rate = statistics.median(cpu_rates[name])
            ratio = f"{rate / peer:.2f}" if peer else "-"
            print(
                f"| {name} | {rate:,.0f} | {statistics.median(wall_rates[name]):,.0f} | {ratio} |"
            )
    starts = [first_packet(args.estate, captures["mix"]) for _ in range(args.repeat + 1)][1:]
    print(f"\n`yunwang sense` on a one-packet capture (cached policy), exec to exit: "
          f"median {statistics.median(w for w, _ in starts):.2f} s wall, "
          f"{statistics.median(c for _, c in starts):.2f} CPU-s")  # fmt: skip
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
