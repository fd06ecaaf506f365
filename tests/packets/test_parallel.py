"""One sensor process per core on a capture file: the same events as one process.

The capture mixes the attack scenarios, a few thousand ordinary connections
on the test estate, a sweep from a low source port (probes whose ports are
above their own, the case a stateless split gets wrong) and a forbidden
storm from many sources. Sharded over 2 and 3 forked workers, the sensor
must raise exactly the events (same ids) and counters one process does,
and the merged IPv6 adoption totals must equal the single process's.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from typer.testing import CliRunner

from monitors.packets import Sensor, SensorPolicy, read_capture
from monitors.packets.decode import decode
from monitors.packets.parallel import sense_file
from monitors.packets.shards import ShardAssigner, shard_of
from monitors.packets.synthetic import Host, hosts_in, mixed_traffic
from security.events import Event
from tests.packets import scenarios
from tests.packets.sharding import one_process, write_capture
from yunwang.cli import app

EXTRANET = hosts_in("198.18.1.0/24", "2001:db8:3900:1::/64", 40, 0x100)
EXCHANGE = hosts_in("198.18.8.0/24", "2001:db8:3900:800::/64", 40, 0x200)


def _sweep(scanner: Host, targets: list[Host]) -> list[bytes]:
    """tcp/3389 on every target from source port 20 (scapy's default)."""
    return [
        bytes(
            Ether(src=scanner.mac, dst=t.mac)
            / IP(src=scanner.ipv4, dst=t.ipv4)
            / TCP(sport=20, dport=3389, flags="S")
        )
        for t in targets
    ]


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frames = mixed_traffic(EXTRANET, EXTRANET[:10], 250, seed=13)
    frames += mixed_traffic(EXTRANET, EXCHANGE, 120, seed=14, ports=(443, 22, 445))
    frames.sort(key=lambda frame: frame[0])
    start = frames[len(frames) // 2][0]
    extra = [bytes(p) for p in scenarios.all_frames()] + _sweep(EXTRANET[0], EXCHANGE[:30])
    frames += [(start + i * 1e-4, frame) for i, frame in enumerate(extra)]
    return write_capture(tmp_path_factory.mktemp("parallel") / "mix.pcap", frames)


@pytest.mark.parametrize("workers", [2, 3])
def test_sharded_capture_gives_the_events_and_counters_of_one_process(
    policy: SensorPolicy, capture: Path, workers: int
) -> None:
    one = one_process(policy, capture)
    rules = Counter(e.rule_id for e in one.events)
    # The capture is worth splitting: scans, the sweep, the storm and the scenarios.
    assert rules["ywpkt-scan-address"] >= 1 and rules["ywpkt-scan-port"] >= 1
    assert rules["ywpkt-zone-forbidden-flow"] >= 10

    events, outcome = sense_file(lambda: Sensor(policy, observer="test"), capture, workers)
    assert sorted(e.id for e in events) == sorted(e.id for e in one.events)
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)
    merged, single = outcome.stats, one.stats
    assert (merged.seen, merged.parsed, merged.malformed, merged.unsupported) == (
        single.seen,
        single.parsed,
        single.malformed,
        single.unsupported,
    )
    assert merged.events == single.events
    assert {k: (c.flows, c.bytes) for k, c in outcome.adoption.items()} == {
        k: (c.flows, c.bytes) for k, c in one.adoption.snapshot().items()
    }


def test_workers_render_the_lines_of_the_events_in_their_order(
    policy: SensorPolicy, capture: Path
) -> None:
    """`render`: each worker renders its own events; the merged lines are the
    events' lines in the order the merged events have, and no event comes back."""

    def render(event: Event) -> str:
        return f"{event.timestamp.isoformat()} {event.id} {event.message}"

    events, _ = sense_file(lambda: Sensor(policy, observer="test"), capture, 2)
    none, outcome = sense_file(lambda: Sensor(policy, observer="test"), capture, 2, render)
    assert none == [] and len(events) >= 10
    assert [line for _, line in outcome.lines] == [render(e) for e in events]


def test_every_flow_and_every_client_stays_in_one_shard(capture: Path) -> None:
    assigner = ShardAssigner(3)
    where: dict[object, set[int]] = {}
    for ts, frame, length in read_capture(capture):
        try:
            packet = decode(frame, ts, length)
        except ValueError:
            continue
        shard = assigner.shard(packet)
        assert shard_of(packet, 1) == 0 and 0 <= shard < 3
        if packet.sport >= 0:
            ends = frozenset({(packet.src, packet.sport), (packet.dst, packet.dport)})
            where.setdefault(ends, set()).add(shard)
    assert all(len(shards) == 1 for shards in where.values())
    assert len({min(s) for s in where.values()}) == 3  # and the work is spread


def test_the_command_with_workers_prints_what_one_process_prints(
    capture: Path, policy_file: Path
) -> None:
    runner = CliRunner()
    common = ["sense", "--pcap", str(capture), str(scenarios.ESTATE), "--policy", str(policy_file)]
    one = runner.invoke(app, [*common, "--json"])
    two = runner.invoke(app, [*common, "--json", "--workers", "2"])
    assert one.exit_code == 0 and two.exit_code == 0, two.stderr
    ids = [json.loads(line)["event"]["id"] for line in two.stdout.splitlines()]
    assert sorted(ids) == sorted(
        json.loads(line)["event"]["id"] for line in one.stdout.splitlines()
    )
    assert one.stderr.splitlines()[-1] == two.stderr.splitlines()[-1]  # the same summary line


def test_the_command_with_workers_ships_to_a_store_what_it_prints(
    capture: Path, policy_file: Path, tmp_path: Path
) -> None:
    """With --store the parent needs the events themselves, not their lines:
    each is printed and shipped once."""
    from security.store import open_store

    url = f"sqlite:///{tmp_path / 'events.db'}"
    common = ["sense", "--pcap", str(capture), str(scenarios.ESTATE), "--policy", str(policy_file)]
    two = CliRunner().invoke(app, [*common, "--json", "--workers", "2", "--store", url])
    assert two.exit_code == 0, two.stderr
    printed = sorted(
        (doc["@timestamp"], doc["message"]) for doc in map(json.loads, two.stdout.splitlines())
    )
    assert len(printed) >= 10
    store = open_store(url)
    try:
        since = datetime(2000, 1, 1, tzinfo=UTC)
        shipped = list(store.iter_events(["yunwang.packets"], since))
    finally:
        store.close()
    # Once each (the producer's heartbeat aside; shipping adds its context).
    assert sorted((e.to_ecs()["@timestamp"], e.message) for e in shipped) == printed
