"""Packet sensor throughput against its peers, in one run on one capture.

    .venv/bin/python bench/packets_bench.py [--estate examples/puyang.yaml]
        [--connections 6000] [--repeat 5] [--scapy-frames 5000]

Builds (once, cached in $YUNWANG_HOME/cache) a realistic mixed pcap: village
and township hosts of the estate talking to the tenants' systems (HTTPS,
database, SSH, DNS, syslog, SNMP, echo, ARP/ND, IPv6 extension headers, 40 %
IPv6, 10 % VLAN-tagged, a few truncated frames), plus a SYN scan and an
address sweep. Then measures, alternating the contenders in each round:

- yunwang sensor: read + decode + every detection (the goal: >= 200k
  packets per CPU-second, i.e. per core, since it is single-threaded);
- yunwang decode only, and the raw reader alone (where the time goes);
- scapy RawPcapReader (read only, no dissection);
- `tshark -n -r FILE` (output to /dev/null), CPU time of the child;
- scapy full dissection (PcapReader) on the first --scapy-frames frames.

Reports medians of packets per CPU-second and per wall-second, and the
sensor's ratio to each peer. CPU time, not wall time, is the per-core
measure on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from scapy.utils import PcapReader, RawPcapReader

from estate import Estate, load
from estate.home import yunwang_home
from monitors.packets import Sensor, read_capture
from monitors.packets.capture import PcapWriter
from monitors.packets.decode import MalformedPacket, decode
from monitors.packets.estate_policy import policy_from_estate
from monitors.packets.sensor import settle_memory
from monitors.packets.synthetic import Host, hosts_in, mixed_traffic

ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    home = yunwang_home()
    path = home / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def endpoints(estate: Estate, zone: str) -> tuple[list[Host], list[Host]]:
    """Clients on village/township LANs; servers are the tenants' hosts in `zone`."""
    lans = estate.nodes(level="village")[:300] + estate.nodes(level="township")[:60]
    clients: list[Host] = []
    for index, node in enumerate(lans):
        clients += hosts_in(str(node.lan4), str(node.lan6), 2, 0x10_0000 + index * 16)
    servers = [
        Host(str(h.address4), str(h.address6), f"02:5e:00:{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}:01")
        for i, h in enumerate(h for s in estate.systems(zone=zone) for h in s.hosts)
        if h.address4 is not None and h.address6 is not None
    ]
    return clients, servers


def attacks(
    clients: list[Host], servers: list[Host], exchange: list[Host], start: float
) -> list[tuple[float, bytes]]:
    """A SYN scan, a sweep of tcp/3389, and 20 forbidden flows (tcp/22 into the exchange zone)."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    scanner, victim = clients[0], servers[0]
    frames = [
        Ether(src=scanner.mac, dst=victim.mac)
        / IP(src=scanner.ipv4, dst=victim.ipv4)
        / TCP(sport=41000, dport=port, flags="S")
        for port in range(1, 200)
    ]
    frames += [
        Ether(src=scanner.mac, dst=s.mac)
        / IP(src=scanner.ipv4, dst=s.ipv4)
        / TCP(dport=3389, flags="S")
        for s in servers[:60]
    ]
    frames += [
        Ether(src=c.mac, dst=exchange[0].mac)
        / IP(src=c.ipv4, dst=exchange[0].ipv4)
        / TCP(dport=22, flags="S")
        for c in clients[1:21]
    ]
    return [(start + i * 1e-4, bytes(f)) for i, f in enumerate(frames)]


def build_capture(estate: Estate, estate_path: Path, connections: int) -> Path:
    path = cache_dir() / f"bench-packets-v2-{estate_path.stem}-{connections}.pcap"
    if path.exists():
        return path
    clients, servers = endpoints(estate, "gov-extranet")
    _, exchange = endpoints(estate, "exchange")
    started = time.monotonic()
    # Most traffic stays in the extranet zone; what goes to the exchange zone
    # uses the services the isolation matrix opens (tcp/443, tcp/8443).
    frames = mixed_traffic(clients, servers, connections * 3 // 4, seed=2026)
    frames += mixed_traffic(
        clients, exchange, connections // 4, seed=2027, ports=(443, 8443), tcp_only=True
    )
    frames.sort(key=lambda record: record[0])
    middle = len(frames) // 2
    frames[middle:middle] = attacks(clients, servers, exchange, frames[middle][0])
    partial = path.with_suffix(".tmp")
    with PcapWriter(partial) as writer:
        for ts, frame in frames:
            writer.write(ts, frame)
    partial.rename(path)
    print(
        f"built {path} ({len(frames)} frames) in {time.monotonic() - started:.0f} s",
        file=sys.stderr,
    )
    return path


def timed(run: Callable[[], int]) -> tuple[int, float, float]:
    """(frames, CPU seconds of this process and its children, wall seconds)."""
    before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    frames = run()
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(
        a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime
        for a, b in zip(after, before, strict=True)
    )
    return frames, cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--estate", type=Path, default=ROOT / "examples" / "puyang.yaml")
    parser.add_argument("--connections", type=int, default=6000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scapy-frames", type=int, default=5000)
    parser.add_argument("--json", type=Path, help="Also write the results here")
    args = parser.parse_args()

    estate = load(args.estate)
    pcap = build_capture(estate, args.estate, args.connections)
    policy = policy_from_estate(estate)
    frames_total = sum(1 for _ in read_capture(pcap))
    settle_memory(reading_file=True)  # as `yunwang sense --pcap` does before it reads
    last_sensor: list[Sensor] = []

    def sensor_run() -> int:
        sensor = Sensor(policy, observer="bench")
        sensor.feed_all(read_capture(pcap))
        sensor.close()
        last_sensor[:] = [sensor]
        return sensor.stats.seen

    def decode_only() -> int:
        count = 0
        for ts, frame, length in read_capture(pcap):
            count += 1
            # try/except costs nothing here; contextlib.suppress would cost a call per frame.
            try:  # noqa: SIM105
                decode(frame, ts, length)
            except MalformedPacket:
                pass
        return count

    def read_only() -> int:
        return sum(1 for _ in read_capture(pcap))

    def scapy_raw() -> int:
        return sum(1 for _ in RawPcapReader(str(pcap)))

    def tshark() -> int:
        subprocess.run(["tshark", "-n", "-r", str(pcap)], stdout=subprocess.DEVNULL, check=True)
        return frames_total

    def scapy_full() -> int:
        count = 0
        with PcapReader(str(pcap)) as reader:
            for packet in reader:
                packet.summary()  # make sure every layer is dissected
                count += 1
                if count >= args.scapy_frames:
                    break
        return count

    contenders: dict[str, Callable[[], int]] = {
        "yunwang sensor (all detections)": sensor_run,
        "yunwang decode only": decode_only,
        "yunwang reader only": read_only,
        "scapy RawPcapReader (no dissection)": scapy_raw,
        "scapy full dissection": scapy_full,
    }
    if shutil.which("tshark"):
        contenders["tshark -n -r"] = tshark
    results: dict[str, dict[str, list[float]]] = {
        name: {"cpu": [], "wall": []} for name in contenders
    }
    for _ in range(args.repeat):
        for name, run in contenders.items():
            frames, cpu, wall = timed(run)
            results[name]["cpu"].append(frames / cpu)
            results[name]["wall"].append(frames / wall)

    sensor_cpu = statistics.median(results["yunwang sensor (all detections)"]["cpu"])
    print(
        f"\ncapture: {pcap.name}, {frames_total} frames; estate {args.estate.name}; "
        f"{args.repeat} rounds; medians\n"
    )
    print("| contender | packets/CPU-s | packets/wall-s | sensor ÷ this |")
    print("|---|---:|---:|---:|")
    summary = {}
    for name, values in results.items():
        cpu, wall = statistics.median(values["cpu"]), statistics.median(values["wall"])
        summary[name] = {"packets_per_cpu_second": cpu, "packets_per_wall_second": wall}
        print(f"| {name} | {cpu:,.0f} | {wall:,.0f} | {sensor_cpu / cpu:.2f} |")
    stats = last_sensor[0].stats
    print(
        f"\nsensor: {stats.seen} seen, {stats.parsed} parsed, {stats.malformed} malformed, "
        f"events {dict(stats.events)}"
    )
    if args.json:
        args.json.write_text(json.dumps({"frames": frames_total, "results": summary}, indent=2))


if __name__ == "__main__":
    main()
