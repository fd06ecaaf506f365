"""`watch` replaying a large capture into Elasticsearch keeps polling (issue 12).

The defect this guards against: one thread polled, then replayed, then
graded and stored, so a capture with thousands of events into a real node
left `watch` at one poll cycle in 130 s. Now the replay, the grading and the
store's writes run beside the poll schedule. The test asserts the structure,
not a speed: poll cycles complete *while* the replay is still running, and
every scan the capture holds reaches the node exactly once. (How late each
cycle started is measured by bench/fleet.py --only lateness, never asserted.)
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from estate import load
from monitors.sim.traffic import write_scan_storm
from security.store import open_store
from security.store.elastic import ElasticStore
from tests.security.conftest import EsNode, es_namespace
from yunwang.watch_job import EXAMPLE, Watch, WatchOptions

SCANNERS = 600  # each probes PORTS ports of one server: one port-scan event each
PORTS = 16  # the port-scan threshold is 15; each port also a forbidden cross-zone flow


def test_polls_go_on_while_a_large_capture_replays_into_elasticsearch(
    es_node: EsNode, tmp_path: Path
) -> None:
    capture = write_scan_storm(load(EXAMPLE), tmp_path / "scans.pcap", SCANNERS, PORTS, time.time())
    pcap, frames = capture.path, capture.frames
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
