"""The sensor on a capture with a deliberately different mix from
bench/packets_bench.py's, in process and as a whole command, next to
`tshark -r` in the same run; and start-up to the first packet.

    .venv/bin/python bench/packets_mix.py [--estate examples/puyang.yaml]
        [--connections 6000] [--repeat 3]

The capture (built once, cached in $YUNWANG_HOME/cache): TCP sessions with
full option sets (MSS, SACK, timestamps, window scale) and 200-1400 byte
payloads, DNS queries and answers, IPv4 fragments (first, middle, last),
a third of the frames VLAN-tagged, and many flows crossing zones: allowed
ones into the exchange zone and a forbidden-flow storm (every client tries
tcp/22, tcp/445 and tcp/3389 on many exchange servers).

Measures: packets per CPU-second of the sensor in process (read + decode +
every detection) and of the whole `yunwang sense --pcap FILE ESTATE --json`
command (CPU of the child, start-up included), `tshark -n -r FILE` (child
CPU), medians over --repeat rounds; and the command's start-up: wall time
from exec to the first packet fed (`yunwang sense` with a one-packet pcap).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.packets_bench import cache_dir, endpoints, timed  # noqa: E402
from estate import load  # noqa: E402
from monitors.packets import Sensor, read_capture  # noqa: E402
from monitors.packets.capture import PcapWriter  # noqa: E402
from monitors.packets.estate_policy import policy_from_estate  # noqa: E402
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


def first_packet_s(estate_path: Path, pcap: Path) -> float:
    """Wall time of `yunwang sense --pcap` on a one-packet capture."""
    one = pcap.with_suffix(".one.pcap")
    if not one.exists():
        with PcapWriter(one) as writer:
            ts, frame, _ = next(iter(read_capture(pcap)))
            writer.write(ts, frame)
    began = time.perf_counter()
    subprocess.run(_sense(estate_path, one), stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - began


def _sense(estate_path: Path, pcap: Path) -> list[str]:
    return [sys.executable, "-m", "yunwang", "sense", "--pcap", str(pcap), str(estate_path),
            "--json"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--estate", type=Path, default=ROOT / "examples" / "puyang.yaml")
    parser.add_argument("--connections", type=int, default=6000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pcap = build_capture(args.estate, args.connections)
    estate = load(args.estate)
    policy = policy_from_estate(estate)
    total = sum(1 for _ in read_capture(pcap))
    settle_memory()
    last: list[Sensor] = []

    def in_process() -> int:
        sensor = Sensor(policy, observer="bench", keep_events=True)
        sensor.feed_all(read_capture(pcap))
        sensor.close()
        last[:] = [sensor]
        return sensor.stats.seen

    def command() -> int:
        subprocess.run(_sense(args.estate, pcap), stdout=subprocess.DEVNULL, check=True)
        return total

    def tshark() -> int:
        subprocess.run(["tshark", "-n", "-r", str(pcap)], stdout=subprocess.DEVNULL, check=True)
        return total

    runs = {"yunwang sensor, in process": in_process, "yunwang sense --pcap (command)": command}
    if shutil.which("tshark"):
        runs["tshark -n -r"] = tshark
    rates: dict[str, list[float]] = {name: [] for name in runs}
    starts: list[float] = []
    for _ in range(args.repeat):
        for name, run in runs.items():
            frames, cpu, _wall = timed(run)
            rates[name].append(frames / cpu)
        starts.append(first_packet_s(args.estate, pcap))
    print(f"capture {pcap.name}: {total} frames; {args.repeat} rounds, medians")
    tshark_rate = statistics.median(rates["tshark -n -r"]) if "tshark -n -r" in rates else None
    print("| contender | packets/CPU-s | ÷ tshark |")
    print("|---|---:|---:|")
    for name, values in rates.items():
        rate = statistics.median(values)
        ratio = f"{rate / tshark_rate:.2f}" if tshark_rate else "-"
        print(f"| {name} | {rate:,.0f} | {ratio} |")
    print(f"`yunwang sense` start-up to the first packet (one-packet pcap, wall): "
          f"{statistics.median(starts):.2f} s")  # fmt: skip
    stats = last[0].stats
    print(f"sensor: {stats.seen} seen, {stats.parsed} parsed, {stats.malformed} malformed, "
          f"events {dict(stats.events)}")  # fmt: skip


if __name__ == "__main__":
    main()
