"""The fleet in the lab (issue 12): producers in the counties, one centre, a real Elasticsearch node.

Two packet sensors (`yunwang sense --iface --store`) on mirror ports of the
lab's two county routers (hl and qf) and two poller shards (`yunwang collect
--county --store`) in the lab's NMS, each its own process with its own
credentials, ship to a real Elasticsearch node; one central `yunwang watch
--store` grades what they ship. A port scan in hl, a forged gateway ARP
reply in qf and a cut hl county link each become one graded warning at the
centre, the last two although they happen while Elasticsearch is stopped
(its data kept) for OUTAGE_S, well past the ~18 s without a heartbeat after
which the centre calls a producer silent (security/fleet.py: three of the
producers' 1 s heartbeats plus the feed's 15 s grace). Every shipped event
is graded exactly once; a killed sensor is warned silent (YW-MON-001), and
no other producer is, the outage included.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import ApiError

from lab.lab import Lab
from lab.testing import lab_session
from security.store import open_store
from security.store.elastic import ElasticStore
from security.warnings import Warning
from tests.lab_slice import SMALL, yunwang_env
from tests.packets import scenarios
from tests.security.conftest import EsNode, es_namespace
from tests.security.loopback_bridge import LoopbackBridge
from tests.security.test_security_fleet import _benign_capture
from tests.waiting import wait_until

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]
YUNWANG = str(Path(sys.executable).with_name("yunwang"))
MIRROR = "mir0"  # the sensor's capture port in each county router
OUTAGE_S = 30  # longer than the silence limit (~18 s) by itself; the node's restart adds more
POLL_S = 3  # the shards' poll interval: snmpd shows a cut within 3-5 s

# The default slice (2 counties, as tests/snmp and tests/traps use), up for this module only.
lab = lab_session(SMALL, scope="module")


def _fleet_estate(tmp_path: Path) -> Path:
    """small.yaml with a sensor on each county's mirror port and a short poll interval."""
    text = SMALL.read_text(encoding="utf-8")
    declared = "    - {name: hl-tap, node: hl, interface: eth1}"
    assert declared in text and "poll_interval: 60s" in text
    text = text.replace(
        declared,
        f"    - {{name: hl-tap, node: hl, interface: {MIRROR}}}\n"
        f"    - {{name: qf-tap, node: qf, interface: {MIRROR}}}",
    ).replace("poll_interval: 60s", f"poll_interval: {POLL_S}s")
    path = tmp_path / "estate.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@contextlib.contextmanager
def _mirror_ports(
    lab: Lab, counties: list[str], processes: list[Process]
) -> Iterator[dict[str, str]]:
    """county -> attacker namespace, on a veth whose other end is the county router's
    MIRROR; the `processes` (sensors on those ports) are killed before the ports go."""
    attackers = {c: f"ywfl-{c}-{os.getpid()}" for c in counties}
    try:
        for county, attacker in attackers.items():
            router = lab.namespace(county)
            _ip("netns", "add", attacker)
            _ip("link", "add", MIRROR, "netns", router, "type", "veth",
                "peer", "name", "atk0", "netns", attacker)  # fmt: skip
            # No addresses and no IPv6 on either end: the wire carries only the attack.
            for namespace, device in ((router, MIRROR), (attacker, "atk0")):
                _ip("netns", "exec", namespace, "sysctl", "-qw",
                    f"net.ipv6.conf.{device}.disable_ipv6=1")  # fmt: skip
                _ip("-n", namespace, "link", "set", device, "up")
        yield attackers
    finally:
        for process in processes:
            process.kill()
        for attacker in attackers.values():  # deleting the namespace deletes the veth pair
            subprocess.run(["ip", "netns", "del", attacker], capture_output=True, timeout=10)


def _attack(attacker: str, scenario: str) -> None:
    subprocess.run(
        ["ip", "netns", "exec", attacker, sys.executable, "-m", "tests.packets.attacker", "atk0",
         scenario],
        check=True, cwd=ROOT, timeout=60, capture_output=True,
    )  # fmt: skip


class Process:
    """One `yunwang` process in a namespace (or on this machine), its output in files."""

    def __init__(self, home: Path, argv: list[str], env: dict[str, str]) -> None:
        home.mkdir(parents=True)
        self.home = home
        self.out, self.err = home / "out.log", home / "err.log"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=ROOT)

    def stop(self) -> None:
        """A service manager's stop: SIGTERM (see `stopped`)."""
        self.process.send_signal(signal.SIGTERM)

    def stopped(self) -> None:
        """A clean exit, the last batch shipped."""
        self.process.wait(60)
        assert self.process.returncode == 0, self.err.read_text()[-2000:]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


def _producer(tmp_path: Path, name: str, namespace: str, args: list[str], url: str) -> Process:
    """A producer with its own home, spool and credentials (by reference: api_key_env)."""
    env = yunwang_env(tmp_path / name)
    env["YW_STORE_KEY"] = f"key-of-{name}"
    store = f"{url}&spool={tmp_path / name / 'spool'}&api_key_env=YW_STORE_KEY"
    argv = ["ip", "netns", "exec", namespace, YUNWANG, *args, "--heartbeat", "1", "--store", store]
    return Process(tmp_path / name, argv, env)


def _local_events(producer: Process) -> list[dict[str, Any]]:
    """What a producer recorded itself: a sensor's stdout, a shard's links.jsonl."""
    sensed = producer.out.read_text(encoding="utf-8")
    links = producer.home / "events" / "links.jsonl"
    text = sensed + (links.read_text(encoding="utf-8") if links.exists() else "")
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _same(docs: list[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    """Events compared as the producer made them (the shipped copy is tagged: another id)."""
    return Counter((d["@timestamp"], d["event"]["action"], d["message"]) for d in docs)


def _failovers(shard: Process, pair: str) -> list[dict[str, Any]]:
    return [
        d for d in _local_events(shard)
        if d["event"]["action"] == "pair-state-changed"
        and d.get("yunwang", {}).get("pair") == pair
        and d["yunwang"].get("state") == "failover"
    ]  # fmt: skip


def _shipped(reader: ElasticStore) -> list[dict[str, Any]]:
    # The data stream exists from a producer's first write on.
    reader.client.indices.refresh(index=reader.stream, ignore_unavailable=True)
    found = reader.client.search(
        index=reader.stream,
        query={"exists": {"field": "labels.shipped_by"}},
        size=10_000,
        ignore_unavailable=True,
    )
    return [hit["_source"] for hit in found["hits"]["hits"]]


def _warnings(reader: ElasticStore, rule: str) -> list[Warning]:
    try:
        return reader.find_warnings(rule_id=rule)
    except Exception:  # the centre has not made its warnings index yet, or the node is down
        return []


def test_the_fleet_in_the_lab_through_an_outage(lab: Lab, es_node: EsNode, tmp_path: Path) -> None:
    started = time.monotonic()
    estate = str(_fleet_estate(tmp_path))
    policy = tmp_path / "policy.yaml"
    policy.write_text(scenarios.POLICY)
    ns = es_namespace()
    centre_url = f"{es_node.url}/?namespace={ns}"
    reader = open_store(f"{centre_url}&spool={tmp_path / 'reader'}", install=False)
    assert isinstance(reader, ElasticStore)
    bridges = {node: LoopbackBridge(lab, node, es_node.port) for node in ("hl", "qf", "nms")}
    lab.restore(wait=True)
    processes: list[Process] = []
    timeline: dict[str, datetime] = {}  # for a failure's message
    try:
        with _mirror_ports(lab, ["hl", "qf"], processes) as attackers:
            centre = Process(
                tmp_path / "centre",
                [YUNWANG, "watch", estate, "--simulate", "--scenario", "normal", "--interval", "2",
                 "--pcap", str(_benign_capture(tmp_path / "benign.pcap")), "--port", "0",
                 "--json", "--store", f"{centre_url}&spool={tmp_path / 'centre-spool'}"],
                yunwang_env(tmp_path / "centre-env"),
            )  # fmt: skip
            processes.append(centre)
            wait_until(
                lambda: reader.client.indices.exists_index_template(name=f"logs-yunwang.events-{ns}"),
                120, "the centre's index template", every=0.5,
            )  # fmt: skip
            sensors = {
                county: _producer(
                    tmp_path, f"{county}-tap", lab.namespace(county),
                    ["sense", estate, "--iface", MIRROR, "--policy", str(policy), "--json",
                     "--observer", f"{county}-tap"],
                    bridges[county].url(f"/?namespace={ns}"),
                )
                for county in ("hl", "qf")
            }  # fmt: skip
            shards = {
                county: _producer(
                    tmp_path, f"poller-{county}", lab.namespace("nms"),
                    ["collect", estate, "--county", county, "--lab-dir", str(lab.directory),
                     "--port", "0"],
                    bridges["nms"].url(f"/?namespace={ns}"),
                )
                for county in ("hl", "qf")
            }  # fmt: skip
            processes += [*sensors.values(), *shards.values()]
            everyone = {"hl-tap", "qf-tap", "poller-hl", "poller-qf"}

            def heard() -> set[str]:
                try:
                    return {d["labels"]["shipped_by"] for d in _shipped(reader)}
                except ApiError:  # the data stream's first shard is still starting
                    return set()

            wait_until(lambda: heard() == everyone, 120, "a heartbeat from every producer", every=1)
            wait_until(
                lambda: all("sensing on" in s.err.read_text() for s in sensors.values()),
                30, "both captures open",
            )  # fmt: skip

            # Before the outage: a port scan in hl.
            _attack(attackers["hl"], "syn_scan")
            wait_until(lambda: _warnings(reader, "YW-NET-004"), 60, "the scan graded", every=1)

            # Elasticsearch away for OUTAGE_S: a forged gateway reply in qf, hl's primary cut.
            outage = time.monotonic()
            timeline["stop"] = datetime.now(UTC)
            es_node.stop(keep_data=True)
            try:
                _attack(attackers["qf"], "forged_gateway_reply")
                wait_until(lambda: _local_events(sensors["qf"]), 30, "qf's sensor saw the forgery")
                lab.cut("hl/primary")
                wait_until(lambda: _failovers(shards["hl"], "hl"), 30, "hl's failover polled")
                time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - outage)))
            finally:
                es_node.start(timeout_s=600)  # a loaded machine has taken over 5 minutes
            outage_s = time.monotonic() - outage
            timeline["back"] = datetime.now(UTC)
            wait_until(lambda: _warnings(reader, "YW-NET-005"), 120, "the forgery graded", every=1)
            wait_until(
                lambda: _warnings(reader, "YW-LINK-001"), 120, "the failover graded", every=1
            )
            lab.restore("hl/primary", wait=True)
            wait_until(
                lambda: [w for w in _warnings(reader, "YW-LINK-001") if w.status == "resolved"],
                60, "the failover resolved once hl's primary is back", every=1,
            )  # fmt: skip

            # A sensor killed: the centre warns it went silent, and nobody else
            # was, the outage included.
            sensors["qf"].kill()
            killed_at = datetime.now(UTC)

            def silenced() -> list[tuple[str, str, datetime, str]]:
                found = _warnings(reader, "YW-MON-001")
                return [(w.key, w.status, w.first_seen, w.summary) for w in found]

            wait_until(
                lambda: [w for w in silenced() if w[1] == "open" and w[2] >= killed_at],
                60, "qf-tap silent", every=1,
            )  # fmt: skip
            silent = silenced()
            assert [(key, status) for key, status, _, _ in silent] == [
                ("labels.producer=qf-tap", "open")
            ], (silent, timeline)
            # Then the others, at once: stopped, they would be silent too after a while.
            for producer in (sensors["hl"], *shards.values()):
                producer.stop()
            for producer in (sensors["hl"], *shards.values()):
                producer.stopped()
            time.sleep(3)  # the last heartbeats become searchable; the centre reads them
            centre.stop()
            centre.stopped()
    finally:
        for process in processes:  # before their mirror ports go
            process.kill()
        lab.restore(wait=True)
        for bridge in bridges.values():
            bridge.close()
    summary = json.loads(centre.out.read_text())
    shipped = _shipped(reader)
    print(f"fleet lab: outage {outage_s:.0f} s, {len(shipped)} events shipped, "
          f"test {time.monotonic() - started:.0f} s")  # fmt: skip

    # Exactly once: everything each producer recorded reached the store, and
    # the centre graded every shipped event (heartbeats too) once.
    for producer in (*sensors.values(), *shards.values()):
        name = producer.home.name
        stored = [
            d for d in shipped
            if d["labels"]["shipped_by"] == name and d["event"]["dataset"] != "yunwang.fleet"
        ]  # fmt: skip
        assert _same(stored) == _same(_local_events(producer)), name
    assert summary["loop"]["feed_events"] == len(shipped)

    # One graded warning each, counted once per event, placed in its county.
    (scan,) = _warnings(reader, "YW-NET-004")
    assert (scan.count, scan.context.get("county")) == (1, "hl"), scan
    (forgery,) = _warnings(reader, "YW-NET-005")
    assert (forgery.count, forgery.context.get("county")) == (1, "qf"), forgery
    assert scenarios.GATEWAY4 in forgery.summary
    (failover,) = _warnings(reader, "YW-LINK-001")
    assert (failover.key, failover.context.get("county")) == ("yunwang.pair=hl", "hl"), failover
    assert failover.count == len(_failovers(shards["hl"], "hl")) == 1, failover
    # Silent: the killed sensor, placed in its county.
    killed = [w for w in _warnings(reader, "YW-MON-001") if w.key == "labels.producer=qf-tap"]
    assert [(w.count, w.context.get("county")) for w in killed] == [(1, "qf")], killed
    assert "qf-tap" in summary["silent"]
    # Each producer presented its own credentials, by reference, on its own way in.
    assert bridges["hl"].credentials == {"ApiKey key-of-hl-tap"}
    assert bridges["qf"].credentials == {"ApiKey key-of-qf-tap"}
    assert bridges["nms"].credentials == {"ApiKey key-of-poller-hl", "ApiKey key-of-poller-qf"}
    reader.close()
