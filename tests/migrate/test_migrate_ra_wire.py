"""The router gate's RA check on a real segment: a veth between two namespaces.

The "router" namespace holds the segment's end the watch captures on, and a
small responder that answers a Router Solicitation with a Router
Advertisement built by scapy, as zebra does; the "host" namespace is the
host the watch solicits from. The gate compares what crossed the wire with
what the estate's ipv6_mode declares (estate.ipv6.ra_flags).
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from scapy.layers.inet6 import ICMPv6ND_RA, ICMPv6NDOptPrefixInfo, IPv6
from scapy.layers.l2 import Ether

from estate.ipv6 import ra_flags
from lab import netns
from monitors.packets.ra_watch import RaTap, RaWatch
from playbooks.migration_routers import MigrationRouter, RouterSeen, Segment6, router_findings
from tests.migrate.veth import Segment, veth_segment
from tests.waiting import wait_until

pytestmark = pytest.mark.lab
GATEWAY6 = "2001:db8:250::1/64"
ETH_P_IPV6 = 0x86DD


@pytest.fixture
def segment() -> Iterator[Segment]:
    with veth_segment("ywra", "lan", "eth0") as seg:
        yield seg


class Responder:
    """Answers every Router Solicitation on the router's `lan` with one RA."""

    def __init__(self, namespace: str, *, managed: bool) -> None:
        with netns.entered(namespace):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IPV6))
            self.sock.bind(("lan", ETH_P_IPV6))
        mac = ":".join(f"{b:02x}" for b in self.sock.getsockname()[4])
        self.ra = bytes(
            Ether(src=mac, dst="33:33:00:00:00:01")
            / IPv6(src="fe80::1", dst="ff02::1", hlim=255)
            / ICMPv6ND_RA(M=int(managed), O=0)
            / ICMPv6NDOptPrefixInfo(prefix="2001:db8:250::", prefixlen=64, A=1, L=1)
        )
        self.solicitations = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._answer, daemon=True)
        self._thread.start()

    def _answer(self) -> None:
        while not self._stop.is_set():
            if not select.select([self.sock], [], [], 0.1)[0]:
                continue
            frame = self.sock.recv(2048)
            if len(frame) >= 55 and frame[20] == 58 and frame[54] == 133:  # ICMPv6 RS
                self.solicitations += 1
                self.sock.send(self.ra)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def _router() -> MigrationRouter:
    lan = Segment6("lan", (GATEWAY6,), ra_flags("slaac"))
    return MigrationRouter("hl", "county", {}, (lan,), (), "198.18.250.1/24")


def _findings(watch: RaWatch) -> list[str]:
    # The router holds its prefix and answers: only the RA on the wire is gated here.
    seen = RouterSeen(frozenset({GATEWAY6}), (), frozenset(), {}, "", "")
    return router_findings(_router(), seen, watch.heard)


def _watch(seg: Segment, *, host: bool = True) -> RaWatch:
    """With `host`, the host solicits; without, the router's own stack does."""
    solicit_from = (seg.host, "eth0") if host else None
    tap = RaTap("hl", "lan", namespace=seg.router, solicit_from=solicit_from)
    return RaWatch([tap], netns.entered)


def test_an_ra_with_the_wrong_m_flag_fails_the_gate_and_the_declared_one_passes(
    segment: Segment,
) -> None:
    responder = Responder(segment.router, managed=True)
    watch = _watch(segment)
    try:
        wait_until(lambda: "from hl" in " ".join(_findings(watch)), 10, "the solicited RA")
        assert _findings(watch) == [
            "lan: RA on the wire from hl: M=1 O=0 prefixes 2001:db8:250::/64 A=1; "
            "the estate declares M=0 O=0 prefixes 2001:db8:250::/64 A=1"
        ]
        assert responder.solicitations >= 1  # it was the host's RS that drew the RA
    finally:
        watch.close()
        responder.close()

    # No host on the segment: the router solicits itself; the declared RA passes.
    responder = Responder(segment.router, managed=False)
    watch = _watch(segment, host=False)
    try:
        wait_until(lambda: not _findings(watch), 10, "the declared RA heard")
        assert responder.solicitations >= 1
    finally:
        watch.close()
        responder.close()


def test_no_ra_from_the_router_fails_naming_router_and_segment(segment: Segment) -> None:
    # An RA from the host's side of the link (a rogue) is not the router's.
    with netns.entered(segment.host):
        rogue = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        rogue.bind(("eth0", 0))
    watch = _watch(segment)
    try:
        rogue.send(
            bytes(
                Ether(dst="33:33:00:00:00:01")
                / IPv6(src="fe80::66", dst="ff02::1", hlim=255)
                / ICMPv6ND_RA()
                / ICMPv6NDOptPrefixInfo(prefix="2001:db8:250::", prefixlen=64, A=1)
            )
        )
        time.sleep(1.0)  # the capture reads every 0.5 s: it has seen the rogue RA by now
        assert _findings(watch) == [
            "lan: RA on the wire: no Router Advertisement heard on hl lan "
            "(solicited from a host on it)"
        ]
    finally:
        watch.close()
        rogue.close()
