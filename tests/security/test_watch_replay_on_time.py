"""`watch` replaying a large capture into Elasticsearch keeps polling (issue 12).

The defect this guards against: one thread polled, then replayed, then
graded and stored, so a capture with thousands of events into a real node
left `watch` at one poll cycle in 130 s. Now the replay, the grading and the
store's writes run beside the poll schedule. The test asserts the structure,
not a speed: poll cycles complete *while* the replay is still running, every
scan the capture holds reaches the node exactly once. (How late each cycle started is measured in
bench/fleet.py --only lateness, never asserted here.)
"""

from __future__ import annotations

import ipaddress
import struct
import threading
import time
from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from estate import load
from monitors.packets.capture import PcapWriter
from security.store import open_store
from security.store.elastic import ElasticStore
from tests.security.conftest import EsNode, es_namespace
from yunwang.watch_job import EXAMPLE, Watch, WatchOptions

SCANNERS = 600  # each probes PORTS ports of one server: one port-scan event each
PORTS = 16  # the port-scan threshold is 15; each port also a forbidden cross-zone flow
FIRST_SCANNER = ipaddress.IPv4Address("198.18.0.1")
DPORT_AT = 14 + 20 + 2  # Ethernet, IPv4 without options, TCP source port


def _scan_capture(path: Path) -> int:
    """SCANNERS distinct sources (from the benchmark range, outside the estate)
    SYN-scanning the extranet's servers; scapy builds one frame per scanner,
    its ports are patched in (the sensor does not check TCP checksums, as a
    SPAN-port sensor must not)."""
    estate = load(EXAMPLE)
    servers = [h for s in estate.systems() if s.zone == "gov-extranet" for h in s.hosts]
    assert servers
    start = time.time()
    frames = 0
    with PcapWriter(path) as writer:
        for n in range(SCANNERS):
            source = FIRST_SCANNER + n
            server = servers[n % len(servers)]
            template = bytearray(
                bytes(
                    Ether(src="02:00:00:aa:00:01", dst="02:00:00:bb:00:01")
                    / IP(src=str(source), dst=str(server.address4))
                    / TCP(sport=40000 + n % 20000, dport=1, flags="S")
                )
            )
            for port in range(1, PORTS + 1):
                struct.pack_into("!H", template, DPORT_AT, port)
                writer.write(start + frames * 1e-4, bytes(template))
                frames += 1
    return frames


def test_polls_go_on_while_a_large_capture_replays_into_elasticsearch(
    es_node: EsNode, tmp_path: Path
) -> None:
    pcap = tmp_path / "scans.pcap"
    frames = _scan_capture(pcap)
    url = f"{es_node.url}/?namespace={es_namespace()}&spool={tmp_path / 'spool'}"
    options = WatchOptions(interval_s=0.5, metrics_port=0, pcap=pcap, store=url)
    cycles_at: dict[str, int] = {}
    with Watch(options) as watch:
        assert watch.sensor is not None
        sensor = watch.sensor
        replay_done = threading.Event()

        def note() -> None:
            if "replay started" not in cycles_at and sensor.stats.seen > 0:
                cycles_at["replay started"] = watch.cycles
            if not replay_done.is_set() and sensor.stats.seen >= frames:
                cycles_at["replay ended"] = watch.cycles
                replay_done.set()

        watch.run(time.monotonic() + 240, note, done=replay_done.is_set, refresh_s=0.05)
        summary = watch.summary()
    assert sensor.stats.seen == frames, summary.sensor
    # Polling did not wait for the replay: cycles finished while it ran. (In
    # one thread the count would not move between its first and last frame.)
    assert cycles_at["replay ended"] > cycles_at["replay started"], (cycles_at, summary.loop)
    store = open_store(url, install=False)
    try:
        assert isinstance(store, ElasticStore)
        store.client.indices.refresh(index=store.stream)
        scans = store.client.count(
            index=store.stream, query={"term": {"rule.id": "ywpkt-scan-port"}}
        )["count"]
    finally:
        store.close()
    assert scans == SCANNERS  # each scan once: none lost, none doubled
