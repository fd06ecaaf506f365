"""The adoption gate's sensor on a real segment: a veth between two namespaces.

The "router" namespace holds the segment's end the sensor captures on; the
"host" namespace the migrated host. Real pings cross the veth; the packet
sensor (monitors/packets) counts them per family on the segment.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab import netns
from monitors.packets.adoption_watch import AdoptionWatch, SegmentTap
from tests.migrate.veth import Segment, in_namespace, veth_segment
from tests.waiting import wait_until

pytestmark = pytest.mark.lab
ROUTER4, ROUTER6 = "198.18.250.1/24", "2001:db8:250::1/64"
HOST4, HOST6 = "198.18.250.2/24", "2001:db8:250::2/64"


@pytest.fixture
def segment() -> Iterator[Segment]:
    with veth_segment("ywmig", "seg0", "seg0", ((ROUTER4, ROUTER6), (HOST4, HOST6))) as seg:
        yield seg


def _ping(seg: Segment, family: int, address: str) -> None:
    in_namespace(
        seg.router, "ping", f"-{family}", "-c", "2", "-i", "0.2", "-W", "2", address.split("/")[0]
    )


def _tap(seg: Segment, interface: str = "seg0") -> SegmentTap:
    return SegmentTap(
        "lan:hl-zyl", "hl-zyl", interface, (HOST4, HOST6), ("hl-zyl-h1",), namespace=seg.router
    )


def test_ipv6_flows_on_the_segment_pass_and_ipv4_alone_fails_naming_what_was_seen(
    segment: Segment,
) -> None:
    watch = AdoptionWatch([_tap(segment)], netns.entered)
    try:
        _ping(segment, 4, HOST4)
        _ping(segment, 6, HOST6)
        wait_until(lambda: not watch.findings(), 10, "the sensor counting the ping6")
        assert watch.seen() == {"lan:hl-zyl": {"ipv6_flows": 1, "ipv4_flows": 1}}
    finally:
        watch.close()

    # Only IPv4 crosses the segment (the host's IPv6 is unreachable): the gate
    # fails, naming host, segment, where the sensor listened and what it saw.
    watch = AdoptionWatch([_tap(segment)], netns.entered)
    try:
        _ping(segment, 4, HOST4)
        wait_until(lambda: watch.seen()["lan:hl-zyl"]["ipv4_flows"] == 1, 10, "the IPv4 ping")
        assert watch.findings() == [
            "hl-zyl-h1: IPv6 adoption on segment lan:hl-zyl (sensor on hl-zyl seg0): "
            "0 IPv6 flows, 1 IPv4 flows during the gate"
        ]
    finally:
        watch.close()


def test_a_segment_the_sensor_cannot_capture_on_fails_only_its_own_hosts(
    segment: Segment,
) -> None:
    missing = SegmentTap(
        "zone:jwzh", "py", "no-such-if", ("198.18.251.2/24",), ("jwzh-app-1",),
        namespace=segment.router,
    )  # fmt: skip
    watch = AdoptionWatch([missing, _tap(segment)], netns.entered)
    try:
        _ping(segment, 6, HOST6)
        wait_until(lambda: len(watch.findings()) == 1, 10, "the ping6 on the good segment")
        (finding,) = watch.findings()
        assert finding.startswith(
            "jwzh-app-1: IPv6 adoption on segment zone:jwzh (sensor on py no-such-if): "
            "no capture on py: no-such-if: cannot capture"
        ), finding
    finally:
        watch.close()
