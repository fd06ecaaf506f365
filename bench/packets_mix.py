"""The sensor on two captures (bench/packets_bench.py's and one with a
deliberately different mix), in process and as a whole command, on 1 and
N processes, next to `tshark -r` in the same run; and start-up.

    .venv/bin/python bench/packets_mix.py [--estate examples/puyang.yaml]
        [--connections 6000] [--bench-connections 8000] [--workers 2] [--repeat 3]

The capture (built once, cached in $YUNWANG_HOME/cache): TCP sessions with
full option sets (MSS, SACK, timestamps, window scale) and 200-1400 byte
payloads, DNS queries and answers, IPv4 fragments (first, middle, last),
a third of the frames VLAN-tagged, and many flows crossing zones: allowed
ones into the exchange zone and a forbidden-flow storm (every client tries
tcp/22, tcp/445 and tcp/3389 on many exchange servers).

Measures, per capture: packets per CPU-second and per wall-second of the
sensor in process (read + decode + every detection) on one process and
sharded over --workers forked processes (CPU of all of them), of the whole
`yunwang sense --pcap FILE ESTATE --json [--workers N]` command (CPU of the
children, start-up included) and of `tshark -n -r FILE`, medians over
--repeat rounds with the contenders alternating; then the command's
start-up: exec to exit on a one-packet capture with the policy cached.
The load average is printed before and after: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import random
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
from monitors.packets import Sensor, SensorPolicy, read_capture  # noqa: E402
from monitors.packets.capture import PcapWriter  # noqa: E402
from monitors.packets.parallel import sense_file  # noqa: E402
from monitors.packets.policy_cache import policy_for  # noqa: E402
from monitors.packets.sensor import settle_memory  # noqa: E402
from monitors.packets.synthetic import Host  # noqa: E402

OPTIONS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None), ("WScale", 7)]


def _frames(clients: list[Host], servers: list[Host], exchange: list[Host],
            connections: int, seed: int) -> list[tuple[float, bytes]]:  # fmt: skip
    from scapy.layers.dns import DNS, DNSQR, DNSRR
    from scapy.layers.inet import IP, TCP, UDP, fragment
    from scapy.layers.l2 import Dot1Q, Ether
    from scapy.packet import Packet, Raw

    rng = random.Random(seed)
    out: list[tuple[float, bytes]] = []
    t = 1_767_225_600.0

    def put(frame: Packet, vlan: bool) -> None:
        nonlocal t
        t += rng.expovariate(2000)
        if vlan:
            tag = Dot1Q(vlan=100 + rng.randrange(50))
            frame = Ether(src=frame.src, dst=frame.dst) / tag / frame.payload
        out.append((t, bytes(frame)))

    for n in range(connections):
        c = rng.choice(clients)
        vlan = rng.random() < 0.33
        kind = rng.random()
        if kind < 0.45:  # a TCP session with options and payload
            s = rng.choice(servers if rng.random() < 0.7 else exchange)
            port, sport = 443, 20000 + n % 40000
            e1, e2 = Ether(src=c.mac, dst=s.mac), Ether(src=s.mac, dst=c.mac)
            ip1, ip2 = IP(src=c.ipv4, dst=s.ipv4), IP(src=s.ipv4, dst=c.ipv4)
            put(e1 / ip1 / TCP(sport=sport, dport=port, flags="S", options=OPTIONS), vlan)
            put(e2 / ip2 / TCP(sport=port, dport=sport, flags="SA", options=OPTIONS), vlan)
            for i in range(6):
                fwd = i % 2 == 0
                size = rng.randrange(200, 1400)
                ts_opt = [("NOP", None), ("NOP", None), ("Timestamp", (1000 + i, 999 + i))]
                tcp = TCP(sport=sport if fwd else port, dport=port if fwd else sport,
                          flags="PA", options=ts_opt)  # fmt: skip
                put((e1 / ip1 if fwd else e2 / ip2) / tcp / Raw(rng.randbytes(size)), vlan)
            put(e1 / ip1 / TCP(sport=sport, dport=port, flags="FA"), vlan)
        elif kind < 0.75:  # DNS query and answer
            s = rng.choice(servers)
            name = f"host{rng.randrange(5000)}.gov.example."
            q = DNS(id=n & 0xFFFF, rd=1, qd=DNSQR(qname=name))
            a = DNS(id=n & 0xFFFF, qr=1, rd=1, ra=1, qd=DNSQR(qname=name),
                    an=DNSRR(rrname=name, rdata=s.ipv4))  # fmt: skip
            put(Ether(src=c.mac, dst=s.mac) / IP(src=c.ipv4, dst=s.ipv4)
                / UDP(sport=30000 + n % 30000, dport=53) / q, vlan)  # fmt: skip
            put(Ether(src=s.mac, dst=c.mac) / IP(src=s.ipv4, dst=c.ipv4)
                / UDP(sport=53, dport=30000 + n % 30000) / a, vlan)  # fmt: skip
        elif kind < 0.85:  # a fragmented UDP datagram (syslog bulk)
            s = rng.choice(servers)
            big = (
                IP(src=c.ipv4, dst=s.ipv4, id=n & 0xFFFF)
                / UDP(sport=514, dport=514)
                / Raw(rng.randbytes(3000))
            )
            for piece in fragment(big, fragsize=1200):  # type: ignore[no-untyped-call]
                put(Ether(src=c.mac, dst=s.mac) / piece, vlan)
        else:  # cross-zone: forbidden services into the exchange zone
            s = rng.choice(exchange)
            port = rng.choice((22, 445, 3389))
            put(Ether(src=c.mac, dst=s.mac) / IP(src=c.ipv4, dst=s.ipv4)
                / TCP(sport=40000 + n % 20000, dport=port, flags="S", options=OPTIONS), vlan)  # fmt: skip
    return out


def build_capture(estate_path: Path, connections: int) -> Path:
    path = cache_dir() / f"bench-packets-mix-{estate_path.stem}-{connections}.pcap"
    if path.exists():
        return path
    estate = load(estate_path)
    clients, servers = endpoints(estate, "gov-extranet")
    _, exchange = endpoints(estate, "exchange")
    frames = _frames(clients, servers, exchange, connections, seed=13)
    partial = path.with_suffix(".tmp")
    with PcapWriter(partial) as writer:
        for ts, frame in frames:
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
    estate_path: Path, pcap: Path, policy: SensorPolicy, total: int, workers: int
) -> dict[str, Callable[[], int]]:
    def in_process() -> int:
        sensor = Sensor(policy, observer="bench", keep_events=True)
        sensor.feed_all(read_capture(pcap))
        sensor.close()
        return sensor.stats.seen

    def in_process_sharded() -> int:
        _, outcome = sense_file(lambda: Sensor(policy, observer="bench"), pcap, workers)
        return outcome.stats.seen

    def command(n: int) -> Callable[[], int]:
        def run() -> int:
            subprocess.run(_sense(estate_path, pcap, n), stdout=subprocess.DEVNULL, check=True)
            return total

        return run

    def tshark() -> int:
        subprocess.run(["tshark", "-n", "-r", str(pcap)], stdout=subprocess.DEVNULL, check=True)
        return total

    runs: dict[str, Callable[[], int]] = {
        "sensor in process, 1 process": in_process,
        f"sensor in process, {workers} processes": in_process_sharded,
        "`yunwang sense --pcap` command, 1 process": command(1),
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
    args = parser.parse_args()
    estate = load(args.estate)
    captures = {
        "mix": build_capture(args.estate, args.connections),
        "bench": build_bench_capture(estate, args.estate, args.bench_connections),
    }
    policy = policy_for(args.estate, lambda path: estate)  # also fills the command's cache
    settle_memory()
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
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
