"""The file-share assigner's flow table, in C and in Python alike.

Only the flows whose client the ports cannot tell are remembered
(`shards._client_by_ports`), and the C table (one slot a flow) counts them
as the Python dicts (two keys a flow) do, so both are emptied at the same
frame.
"""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from monitors.packets import decode
from monitors.packets.shards import ShardAssigner

needs_build = pytest.mark.skipif(
    not ShardAssigner(2).native, reason="the sensor is not compiled (make compile)"
)


@needs_build
def test_the_c_table_counts_and_empties_as_the_dicts_do() -> None:
    """One slot a flow in C, two dict keys in Python (one for a flow whose
    directions are the same bytes): the bound must still be reached, and the
    table emptied, at the same frame."""
    frames = []
    for n in range(60):
        a, b = f"198.18.1.{n % 9 + 1}", f"198.18.8.{n % 5 + 1}"
        frames.append(
            bytes(Ether() / IP(src=a, dst=b) / TCP(sport=40000 + n, dport=443, flags="S"))
        )
        frames.append(
            bytes(Ether() / IP(src=b, dst=a) / TCP(sport=443, dport=40000 + n, flags="SA"))
        )
        # A scan from port 20 (remembered), its answer, and an ACK then a SYN
        # from a low port on one flow (the SYN is the flow's first remembered).
        frames.append(bytes(Ether() / IP(src=a, dst=b) / TCP(sport=20, dport=1000 + n, flags="S")))
        frames.append(bytes(Ether() / IP(src=b, dst=a) / TCP(sport=1000 + n, dport=20, flags="SA")))
        frames.append(bytes(Ether() / IP(src=b, dst=a) / TCP(sport=53, dport=2000 + n, flags="A")))
        frames.append(bytes(Ether() / IP(src=b, dst=a) / TCP(sport=53, dport=2000 + n, flags="S")))
        frames.append(
            bytes(Ether() / IP(src=a, dst=a) / UDP(sport=5000 + n % 3, dport=5000 + n % 3))
        )
        six = f"2001:db8::{n % 7 + 1:x}"
        frames.append(
            bytes(Ether() / IPv6(src=six, dst=six) / UDP(sport=n, dport=n) / Raw(bytes(20)))
        )
        frames.append(
            bytes(
                Ether() / IPv6(src="2001:db8::99", dst=six) / UDP(sport=n, dport=9) / Raw(bytes(20))
            )
        )
    for bound in (7, 10, 1_000_000):
        native, python = ShardAssigner(3, bound), ShardAssigner(3, bound, native=False)
        table = native.splitter()
        assert table is not None
        for frame in frames:
            assert native.shard_at(frame, 0, len(frame)) == python.shard_at(frame, 0, len(frame))
            assert len(table) == len(python._tcp) + len(python._udp)


@pytest.mark.parametrize("native", [True, False], ids=["c-when-built", "python"])
def test_only_flows_the_ports_cannot_tell_are_remembered(native: bool) -> None:
    """A flow whose every packet names its client by the ports (the higher
    port's end) takes no room in the table; a scan from a low source port,
    equal ports and UDP between high ports do, and stay their first
    packet's client's."""
    if native and not ShardAssigner(2).native:
        pytest.skip("the sensor is not compiled (make compile)")
    assigner = ShardAssigner(2, native=native)

    def size() -> int:
        table = assigner.splitter()
        return len(table) if table is not None else len(assigner._tcp) + len(assigner._udp)

    def at(frame: bytes) -> int:
        return assigner.shard_at(frame, 0, len(frame))

    client, servers = "198.18.1.7", [f"198.18.{n}.1" for n in range(2, 40)]
    for server in servers:
        for flags in ("S", "A", "PA", "FA"):
            at(
                bytes(
                    Ether() / IP(src=client, dst=server) / TCP(sport=40001, dport=443, flags=flags)
                )
            )
        at(bytes(Ether() / IP(src=server, dst=client) / TCP(sport=443, dport=40001, flags="SA")))
        dns = Ether() / IP(src=server, dst=client) / UDP(sport=53, dport=40001) / Raw(bytes(8))
        assert at(bytes(dns)) >= 0
    assert size() == 0
    scanner = "198.18.9.9"
    probes = [
        bytes(Ether() / IP(src=scanner, dst=server) / TCP(sport=20, dport=port, flags="S"))
        for server in servers
        for port in (80, 443, 8080)
    ]
    owners = {at(probe) for probe in probes}
    assert size() == 2 * len(probes)
    assert owners == {ShardAssigner(2, native=False).shard(decode(probes[0], 0.0, len(probes[0])))}
    answers = [
        bytes(Ether() / IP(src=server, dst=scanner) / TCP(sport=port, dport=20, flags="RA"))
        for server in servers
        for port in (80, 443, 8080)
    ]
    assert {at(answer) for answer in answers} == owners  # known: the scanner's, not by ports
    for ports in ((5004, 5006), (514, 514)):
        sport, dport = ports
        udp = Ether() / IP(src=client, dst=scanner) / UDP(sport=sport, dport=dport) / Raw(bytes(8))
        assert at(bytes(udp)) >= 0
    assert size() == 2 * len(probes) + 4
