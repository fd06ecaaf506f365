"""Sharded sensing at the edges a fuzzer found: still exactly one process's events.

Each case once split the traffic so that two processes saw one
conversation, or let one process's timing change another's flows:
- a unicast DHCP exchange (a renewal, a monitoring host asking 25 servers
  that all answer): the requests went to the client's process, the answers
  to process 0, so both opened the flow and the answered requests looked
  like an address scan on udp/67;
- an ICMPv6 echo behind a hop-by-hop header, answered plainly;
- a client that asks 25 servers, is answered, goes quiet past the flows'
  idle timeout and asks again unanswered: one process expired its flows at
  a sweep another client's traffic triggered, a worker of its own never did;
- a capture corrupt after its first frames: one process printed their
  events and stopped, N processes printed none.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from pathlib import Path

import pytest
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dhcp6 import DHCP6_Renew, DHCP6_Reply, DHCP6OptClientId, DHCP6OptServerId
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6, IPv6ExtHdrHopByHop
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from typer.testing import CliRunner

from monitors.packets import Sensor, SensorPolicy
from monitors.packets.decode import decode
from monitors.packets.parallel import sense_file
from monitors.packets.shards import shard_of
from monitors.packets.synthetic import Host, hosts_in
from tests.packets import scenarios
from tests.packets.sharding import as_pcapng, one_process, write_capture
from yunwang.cli import app

EXTRANET = hosts_in("198.18.1.0/24", "2001:db8:3900:1::/64", 60, 0x100)
EXCHANGE = hosts_in("198.18.8.0/24", "2001:db8:3900:800::/64", 30, 0x200)
SERVERS = hosts_in("198.18.2.0/24", "2001:db8:3900:2::/64", 30, 0x300)
T = 1_760_000_000.0


def _in_process(host: Host, index: int) -> bool:
    """Whether `host`'s connections go to process `index` of 2."""
    syn = Ether() / IP(src=host.ipv4, dst=SERVERS[0].ipv4) / TCP(sport=40000, dport=80, flags="S")
    return shard_of(decode(bytes(syn), 0.0, 0), 2) == index


def _frame(src: Host, dst: Host, layers: Packet) -> bytes:
    return bytes(Ether(src=src.mac, dst=dst.mac) / layers)


def _edges() -> list[tuple[float, bytes]]:
    # Clients whose own traffic goes to process 1, away from process 0.
    client, asker, quiet = [h for h in EXTRANET if _in_process(h, 1)][:3]
    busy = next(h for h in EXTRANET if _in_process(h, 0))
    server = EXCHANGE[0]
    frames = [
        (T, _frame(client, server, IP(src=client.ipv4, dst=server.ipv4) / UDP(sport=68, dport=67)
                   / BOOTP(op=1) / DHCP(options=[("message-type", "request"), "end"]))),
        (T + 0.01, _frame(server, client, IP(src=server.ipv4, dst=client.ipv4) / UDP(sport=67, dport=68)
                          / BOOTP(op=2, yiaddr=client.ipv4)
                          / DHCP(options=[("message-type", "ack"), ("server_id", server.ipv4), "end"]))),
        (T + 0.02, _frame(client, server, IPv6(src=client.ipv6, dst=server.ipv6) / UDP(sport=546, dport=547)
                          / DHCP6_Renew() / DHCP6OptClientId())),
        (T + 0.03, _frame(server, client, IPv6(src=server.ipv6, dst=client.ipv6) / UDP(sport=547, dport=546)
                          / DHCP6_Reply() / DHCP6OptServerId())),
        (T + 0.04, _frame(client, server, IPv6(src=client.ipv6, dst=server.ipv6) / IPv6ExtHdrHopByHop()
                          / ICMPv6EchoRequest(id=1, seq=1))),
        (T + 0.05, _frame(server, client, IPv6(src=server.ipv6, dst=client.ipv6)
                          / ICMPv6EchoReply(id=1, seq=1))),
    ]  # fmt: skip
    for i, dhcp in enumerate(SERVERS[:25]):  # a monitoring host asks 25 DHCP servers; all answer
        ask = IP(src=asker.ipv4, dst=dhcp.ipv4) / UDP(sport=68, dport=67) / BOOTP(op=1)
        answer = IP(src=dhcp.ipv4, dst=asker.ipv4) / UDP(sport=67, dport=68) / BOOTP(op=2)
        frames.append(
            (
                T + 1 + i,
                _frame(asker, dhcp, ask / DHCP(options=[("message-type", "inform"), "end"])),
            )
        )
        frames.append((T + 1.01 + i, _frame(dhcp, asker, answer / DHCP(
            options=[("message-type", "ack"), ("server_id", dhcp.ipv4), "end"]))))  # fmt: skip
    for when, answered in ((T + 100, True), (T + 450, False)):  # asked, quiet, asked again
        for i, peer in enumerate(SERVERS[:25]):
            ask = IP(src=quiet.ipv4, dst=peer.ipv4) / UDP(sport=40000, dport=9999) / Raw(b"q")
            frames.append((when + i * 0.01, _frame(quiet, peer, ask)))
            if answered:
                back = IP(src=peer.ipv4, dst=quiet.ipv4) / UDP(sport=9999, dport=40000) / Raw(b"r")
                frames.append((when + i * 0.01 + 0.005, _frame(peer, quiet, back)))
    for k in range(100):  # meanwhile another client opens a connection every 5 s
        syn = IP(src=busy.ipv4, dst=SERVERS[29].ipv4) / TCP(sport=41000 + k, dport=443, flags="S")
        frames.append((T + 90 + 5 * k, _frame(busy, SERVERS[29], syn)))
    return sorted(frames)


@pytest.fixture(scope="module")
def edges(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_capture(tmp_path_factory.mktemp("edges") / "edges.pcap", _edges())


@pytest.mark.parametrize("form", ["pcap", "pcapng"])
def test_the_edges_give_one_process_events_on_two(
    policy: SensorPolicy, edges: Path, form: str, tmp_path: Path
) -> None:
    """Both readers' splits (a pcap's in C by `take`, a pcapng's by
    `take_blocks` and `keep`) put these clients where `_edges` wants them."""
    one = one_process(policy, edges)
    path = as_pcapng(edges, tmp_path / "edges.pcapng") if form == "pcapng" else edges
    events, outcome = sense_file(lambda: Sensor(policy, observer="test"), path, 2)
    assert min(outcome.shares) > 0  # both processes had traffic
    assert sorted(e.id for e in events) == sorted(e.id for e in one.events)
    assert outcome.stats.events == one.stats.events
    assert {k: (c.flows, c.bytes) for k, c in outcome.adoption.items()} == {
        k: (c.flows, c.bytes) for k, c in one.adoption.snapshot().items()
    }
    scans = Counter(
        e.message.split(" probed ")[-1] for e in one.events if "scan" in (e.rule_id or "")
    )
    # The quiet client's second round is 25 unanswered attempts: a scan of
    # udp/9999, whichever process sees it; the answered DHCP asks are none.
    assert any("udp port 9999" in what for what in scans), scans
    assert not any("port 67" in what for what in scans), scans


def test_a_capture_corrupt_partway_prints_the_events_before_it_on_any_workers(
    edges: Path, policy_file: Path, tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.pcap"
    record = struct.pack("<IIII", int(T) + 1000, 0, 0xFFFFFFFF, 60) + bytes(60)
    corrupt.write_bytes(edges.read_bytes() + record)
    runner = CliRunner()
    common = ["sense", "--pcap", str(corrupt), str(scenarios.ESTATE), "--policy", str(policy_file)]
    one = runner.invoke(app, [*common, "--json"])
    two = runner.invoke(app, [*common, "--json", "--workers", "2"])
    assert one.exit_code == two.exit_code == 1
    printed = [json.loads(line)["event"]["id"] for line in one.stdout.splitlines()]
    assert len(printed) > 2
    assert sorted(json.loads(line)["event"]["id"] for line in two.stdout.splitlines()) == sorted(
        printed
    )
    error = f"{corrupt}: record of 4294967295 bytes at offset"
    assert one.stderr.strip().splitlines()[-1].startswith(error)
    assert two.stderr.strip().splitlines() == one.stderr.strip().splitlines()[-1:]
    assert "Traceback" not in one.stderr + two.stderr
