"""The sensor on a live interface: one process and a fanout group of N, at
fixed offered rates, next to `tshark -i` on the same interface, in the same run.

    .venv/bin/python bench/packets_live.py [--rates 20000,50000,0] [--workers 2]
        [--connections 30000] [--repeat 3]

Needs root (network namespaces) and tcpreplay (`apt-get install tcpreplay`).

The traffic is bench/packets_mix.py's mixed capture (TCP with full option
sets and payloads, DNS, IPv4 fragments, VLAN tags, a forbidden-flow storm),
built on a city this bench generates with `bench/make_city.py --ipv4
198.18.0.0/15`, so every address sent is a benchmarking one; the bench
checks each frame's addresses before it sends anything. tcpreplay plays it
once per run at the offered rate (`0`: as fast as it can) into a veth
between two namespaces the bench creates, and deletes them at the end.

Contenders, alternating each round, each started fresh for a run:
- `yunwang sense ESTATE --iface s0 --json --duration D` on 1 process and on
  --workers processes (an AF_PACKET fanout group; the kernel splits by flow);
- `tshark -n -i s0 -a duration:D` (dumpcap captures, tshark dissects every
  frame and prints its summary line, as `tshark -n -r` does in packets_mix).
  dumpcap writes to a temporary file that tshark reads behind it: offered
  more than it can dissect, tshark falls behind on disk where a sensor that
  works in memory drops, so at top speed the drops are not the same job.

Per run: frames offered (tcpreplay's count), frames seen and kernel drops
(the contender's own summary), and CPU-seconds of the contender and its
children (wait4), less what the same contender spends over the same time
with no traffic (start-up, idle polling: measured once per rate and
contender). Medians over --repeat rounds. On a 2-core machine tcpreplay
itself takes a share of the CPU the contenders would use: the figures are
CPU per packet, and drops say when a contender could not keep up.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.packets_bench import cache_dir  # noqa: E402
from bench.packets_mix import build_capture  # noqa: E402
from monitors.packets import MalformedPacket, decode, read_capture  # noqa: E402
from tests.migrate.veth import Segment, in_namespace, veth_segment  # noqa: E402

SAFE4 = ipaddress.ip_network("198.18.0.0/15")
SAFE6 = ipaddress.ip_network("2001:db8::/32")
SENSOR_IF, SENDER_IF = "s0", "a0"


@dataclass
class Run:
    offered: int = 0
    sent_pps: float = 0.0  # what tcpreplay achieved
    seen: int = 0
    dropped: int = 0
    cpu_s: float = 0.0
    shares: str = ""


def city() -> Path:
    """A small city on 198.18.0.0/15 (cached): 16 townships, 192 villages."""
    path = cache_dir() / "bench-live-city.yaml"
    if not path.exists():
        text = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "make_city.py"), "--counties", "2",
             "--townships", "8", "--villages", "12", "--ipv4", str(SAFE4)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        path.write_text(text, encoding="utf-8")
    return path


def check_addresses(pcap: Path) -> int:
    """Every frame's IP addresses inside the benchmarking ranges, or no frame is sent."""
    frames = 0
    for ts, frame, length in read_capture(pcap):
        frames += 1
        try:
            packet = decode(frame, ts, length)
        except MalformedPacket:
            continue
        for address in (packet.src, packet.dst):
            if not address:
                continue
            ip = ipaddress.ip_address(address)
            if ip not in (SAFE4 if ip.version == 4 else SAFE6):
                raise SystemExit(f"{pcap}: frame {frames} has {ip}: outside the bench's ranges")
    return frames


def _ns(namespace: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", namespace, *argv]


@contextmanager
def quiet_segment() -> Iterator[Segment]:
    """tests/migrate/veth.py's two namespaces on a veth (router end: the sensor's,
    host end: tcpreplay's), with room for the capture's largest frames and
    without the kernel's own IPv6 chatter, which would count as traffic."""
    with veth_segment("ywlive", SENSOR_IF, SENDER_IF) as seg:
        for ns, name in ((seg.router, SENSOR_IF), (seg.host, SENDER_IF)):
            in_namespace(ns, "ip", "link", "set", name, "mtu", "9000")
            in_namespace(ns, "sysctl", "-qw", f"net.ipv6.conf.{name}.disable_ipv6=1")
        yield seg


class Contender:
    def __init__(self, name: str, argv: list[str], ready: str, tree: Path = ROOT) -> None:
        """`tree`: the source tree whose `yunwang` `python -m` runs (its cwd)."""
        self.name, self.argv, self.ready, self.tree = name, argv, ready, tree

    def run(self, seg: Segment, pcap: Path, rate: int, seconds: float, send: bool) -> Run:
        duration = f"{seconds:.0f}"
        argv = [a.replace("{D}", duration) for a in self.argv]
        process = subprocess.Popen(
            _ns(seg.router, *argv),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.tree,
        )
        lines: list[str] = []
        ready = threading.Event()

        def read() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                lines.append(line.rstrip())
                if self.ready in line:
                    ready.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        if not ready.wait(60):
            process.kill()
            raise SystemExit(f"{self.name}: not ready: {lines[-5:]}")
        outcome = Run()
        if send:
            outcome.offered, outcome.sent_pps = replay(seg, pcap, rate)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        reader.join(10)
        if process.returncode != 0:
            raise SystemExit(f"{self.name}: exit {process.returncode}: {lines[-5:]}")
        outcome.cpu_s = usage.ru_utime + usage.ru_stime
        text = "\n".join(lines)
        if m := re.search(r"(\d+) frames, .* (\d+) dropped", text):
            outcome.seen, outcome.dropped = int(m[1]), int(m[2])
        elif m := re.search(r"(\d+) packets captured", text):
            outcome.seen = int(m[1])
            if d := re.search(r"(\d+) packets? dropped", text):
                outcome.dropped = int(d[1])
        if s := re.search(r"frames per process: (.*)", text):
            outcome.shares = s[1]
        return outcome


def replay(seg: Segment, pcap: Path, rate: int) -> tuple[int, float]:
    speed = [f"--pps={rate}"] if rate else ["--topspeed"]
    done = subprocess.run(
        _ns(seg.host, "tcpreplay", "-i", SENDER_IF, *speed, str(pcap)),
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    m = re.search(r"Actual: (\d+) packets", done.stdout)
    pps = re.search(r"Rated: .*?([\d.]+) pps", done.stdout)
    if m is None or pps is None:
        raise SystemExit(f"tcpreplay said: {done.stdout[-300:]} {done.stderr[-300:]}")
    return int(m[1]), float(pps[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="20000,50000,0", help="packets/s offered; 0: top speed")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--old", help="also `yunwang sense` of this git revision (git archive)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("packets_live: needs root for its network namespaces")
    estate = city()
    pcap = build_capture(estate, args.connections)
    frames = check_addresses(pcap)
    sense = [sys.executable, "-m", "yunwang", "sense", str(estate), "--iface", SENSOR_IF,
             "--json", "--duration", "{D}"]  # fmt: skip
    contenders = [
        Contender("`yunwang sense`, 1 process", [*sense, "--workers", "1"], "sensing on"),
        Contender(
            f"`yunwang sense`, {args.workers} processes",
            [*sense, "--workers", str(args.workers)],
            "sensing on",
        ),
        Contender(
            "`tshark -n -i`",
            ["tshark", "-n", "-i", SENSOR_IF, "-a", "duration:{D}"],
            "Capturing on",
        ),
    ]
    if args.old:
        old = Path(tempfile.mkdtemp(prefix="packets-live-old-"))
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.old], check=True,
                                 capture_output=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        contenders[:0] = [
            Contender(f"`yunwang sense`, 1 process, {args.old}", [*sense, "--workers", "1"],
                      "sensing on", old),
            Contender(f"`yunwang sense`, {args.workers} processes, {args.old}",
                      [*sense, "--workers", str(args.workers)], "sensing on", old),
        ]  # fmt: skip
    rates = [int(r) for r in args.rates.split(",")]
    print(f"{pcap.name}: {frames} frames; load average before "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip
    with quiet_segment() as seg:
        for rate in rates:
            # Long enough for the whole replay after the contender is ready.
            seconds = max(6.0, frames / rate + 4.0) if rate else max(6.0, frames / 100_000 + 4.0)
            idle = {c.name: c.run(seg, pcap, rate, seconds, send=False).cpu_s for c in contenders}
            runs: dict[str, list[Run]] = {c.name: [] for c in contenders}
            for round_ in range(args.repeat):
                order = contenders if round_ % 2 == 0 else contenders[::-1]
                for contender in order:
                    runs[contender.name].append(contender.run(seg, pcap, rate, seconds, True))
            report(rate, frames, idle, runs)
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def report(rate: int, frames: int, idle: dict[str, float], runs: dict[str, list[Run]]) -> None:
    offered = f"{rate:,} pps" if rate else "top speed"
    print(
        f"\noffered {offered}, {frames} frames a run; medians of {len(next(iter(runs.values())))}"
    )
    print(
        "| contender | offered | sent at (pps) | seen | dropped | CPU-s (less idle) "
        "| packets/CPU-s | ÷ tshark | shares |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    rates: dict[str, float] = {}
    for name, done in runs.items():
        per = [r.seen / max(r.cpu_s - idle[name], 1e-3) for r in done]
        rates[name] = statistics.median(per)
    peer = next((v for k, v in rates.items() if "tshark" in k), None)
    for name, done in runs.items():
        med = lambda values: statistics.median(values)  # noqa: E731
        ratio = f"{rates[name] / peer:.2f}" if peer else "-"
        print(
            f"| {name} | {med([r.offered for r in done]):,.0f} "
            f"| {med([r.sent_pps for r in done]):,.0f} | {med([r.seen for r in done]):,.0f} "
            f"| {med([r.dropped for r in done]):,.0f} "
            f"| {med([r.cpu_s - idle[name] for r in done]):.2f} | {rates[name]:,.0f} | {ratio} "
            f"| {done[len(done) // 2].shares} |"
        )


if __name__ == "__main__":
    main()
