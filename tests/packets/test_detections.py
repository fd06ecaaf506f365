"""Each detection on frames built with scapy: fires when it must, once, and
stays quiet for the look-alikes (answered ports, declared routers, allowed
flows). Thresholds are overridden by name; bad overrides are one-line errors."""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6NDOptDstLLAddr
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet

from estate import Estate
from monitors.packets import Sensor, SensorPolicy, ThresholdError
from monitors.packets.estate_policy import policy_from_estate
from tests.packets import scenarios as sc

A, B, C = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c"


def run(policy: SensorPolicy, frames: Sequence[Packet], step: float = 0.01) -> Sensor:
    sensor = Sensor(policy, observer="unit")
    for index, frame in enumerate(frames):
        raw = bytes(frame)
        sensor.feed(1_000.0 + index * step, raw, len(raw))
    return sensor


def rules(sensor: Sensor) -> Counter[str]:
    return Counter(e.rule_id or "" for e in sensor.events)


def arp_reply(mac: str, ip: str) -> Packet:
    return Ether(src=mac, dst=sc.VICTIM_MAC) / ARP(op=2, hwsrc=mac, psrc=ip, pdst=sc.VICTIM4)


def syn(dst: str, port: int, src: str = sc.ATTACKER4) -> Packet:
    return Ether(src=A, dst=B) / IP(src=src, dst=dst) / TCP(sport=40000, dport=port, flags="S")


def syn_ack(src: str, port: int, dst: str = sc.ATTACKER4) -> Packet:
    return Ether(src=B, dst=A) / IP(src=src, dst=dst) / TCP(sport=port, dport=40000, flags="SA")


def test_offline_scenarios_raise_exactly_the_expected_events(policy: SensorPolicy) -> None:
    sensor = run(policy, sc.all_frames())
    assert sorted((sc.summary(e.to_ecs()) for e in sensor.events), key=str) == sc.EXPECTED
    assert all(e.dataset == "yunwang.packets" and e.kind == "alert" for e in sensor.events)
    assert sensor.stats.malformed == 0


def test_arp_binding_change_then_flip_flop(policy: SensorPolicy) -> None:
    ip = "198.18.0.30"
    sensor = run(policy, [arp_reply(A, ip), arp_reply(B, ip), arp_reply(A, ip)])
    assert [e.rule_id for e in sensor.events] == ["ywpkt-arp-mac-changed", "ywpkt-arp-flip-flop"]
    assert sensor.events[1].source is not None and sensor.events[1].source.mac == A


def test_flip_flop_window_is_overridable(policy: SensorPolicy) -> None:
    policy.thresholds["arp"] = {"flip_flop_window_s": 0.005}
    sensor = run(
        policy,
        [arp_reply(A, "198.18.0.30"), arp_reply(B, "198.18.0.30"), arp_reply(A, "198.18.0.30")],
    )
    assert rules(sensor) == Counter({"ywpkt-arp-mac-changed": 2})


def test_gateway_claim_uses_declared_macs_and_repeats_once_per_window(policy: SensorPolicy) -> None:
    frames = [arp_reply(sc.GATEWAY_MAC, sc.GATEWAY4)] + [arp_reply(C, sc.GATEWAY4)] * 3
    sensor = run(policy, frames)
    assert rules(sensor) == Counter({"ywpkt-arp-gateway-claim": 1})
    assert "declared 02:00:00:00:00:01" in sensor.events[0].message


def test_gateway_without_declared_mac_trusts_the_first(estate: Estate) -> None:
    policy = policy_from_estate(estate)  # no overlay: 198.18.0.1 has no declared MAC
    sensor = run(
        policy, [arp_reply(A, sc.GATEWAY4), arp_reply(A, sc.GATEWAY4), arp_reply(C, sc.GATEWAY4)]
    )
    assert rules(sensor) == Counter({"ywpkt-arp-gateway-claim": 1})
    assert "first seen as 02:00:00:00:00:0a" in sensor.events[0].message


def test_neighbour_advert_for_the_ipv6_gateway(policy: SensorPolicy) -> None:
    genuine = sc.forged_gateway_advert()[0].copy()
    genuine[Ether].src = sc.GATEWAY_MAC
    genuine[ICMPv6NDOptDstLLAddr].lladdr = sc.GATEWAY_MAC
    assert rules(run(policy, [genuine])) == Counter()
    sensor = run(policy, [genuine, *sc.forged_gateway_advert() * 3])
    assert rules(sensor) == Counter({"ywpkt-nd-gateway-claim": 1})
    assert sensor.events[0].source is not None
    assert sensor.events[0].source.mac == sc.ATTACKER_MAC


def test_gratuitous_storm(policy: SensorPolicy) -> None:
    announce = Ether(src=C, dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=C, psrc="198.18.0.40", pdst="198.18.0.40"
    )
    assert rules(run(policy, [announce] * 20)) == Counter()
    assert rules(run(policy, [announce] * 45)) == Counter({"ywpkt-arp-gratuitous-storm": 1})
    policy.thresholds["arp_storm"] = {"threshold": 5}
    assert rules(run(policy, [announce] * 6)) == Counter({"ywpkt-arp-gratuitous-storm": 1})


def test_port_scan_threshold_is_zeeks_fifteen(policy: SensorPolicy) -> None:
    assert rules(run(policy, [syn(sc.VICTIM4, p) for p in range(1, 15)])) == Counter()
    sensor = run(policy, [syn(sc.VICTIM4, p) for p in range(1, 40)])
    assert rules(sensor) == Counter({"ywpkt-scan-port": 1})


def test_answered_probes_are_not_a_scan(policy: SensorPolicy) -> None:
    frames: list[Packet] = []
    for port in range(1, 40):
        frames += [syn(sc.VICTIM4, port), syn_ack(sc.VICTIM4, port)]
    assert rules(run(policy, frames)) == Counter()


def test_address_scan_and_override(policy: SensorPolicy) -> None:
    hosts = [f"198.18.1.{i}" for i in range(1, 31)]
    assert rules(run(policy, [syn(h, 3389) for h in hosts])) == Counter({"ywpkt-scan-address": 1})
    policy.thresholds["scan"] = {"addr_scan_threshold": 50}
    assert rules(run(policy, [syn(h, 3389) for h in hosts])) == Counter()


def test_scan_window_restarts_after_the_interval(policy: SensorPolicy) -> None:
    policy.thresholds["scan"] = {"port_scan_interval_s": 0.05}
    # 0.01 s apart: never 15 ports within 0.05 s.
    assert rules(run(policy, [syn(sc.VICTIM4, p) for p in range(1, 60)])) == Counter()


def test_declared_router_with_planned_prefix_is_quiet_foreign_prefix_is_not(
    policy: SensorPolicy,
) -> None:
    planned = sc.router_advert(sc.ROUTER_LL, sc.GATEWAY_MAC, sc.PLANNED_PREFIX)
    foreign = sc.router_advert(sc.ROUTER_LL, sc.GATEWAY_MAC, sc.FOREIGN_PREFIX)
    assert rules(run(policy, [planned] * 3)) == Counter()
    assert rules(run(policy, [foreign] * 3)) == Counter({"ywpkt-ra-foreign-prefix": 1})


def test_router_known_by_its_gateway_mac(estate: Estate) -> None:
    policy = policy_from_estate(estate)  # no overlay: no router link-locals declared
    gateway_arp = arp_reply(A, sc.GATEWAY4)
    from_gateway = sc.router_advert("fe80::a", A, sc.PLANNED_PREFIX)
    from_other = sc.router_advert("fe80::c", C, sc.PLANNED_PREFIX)
    assert rules(run(policy, [gateway_arp, from_gateway])) == Counter()
    sensor = run(policy_from_estate(estate), [gateway_arp, from_other])
    assert rules(sensor) == Counter({"ywpkt-ra-undeclared-router": 1})


def test_dhcp_from_the_gateway_relay_is_declared(policy: SensorPolicy) -> None:
    def offer(server: str) -> Packet:
        return (
            Ether(src=A, dst="ff:ff:ff:ff:ff:ff")
            / IP(src=server, dst="255.255.255.255")
            / UDP(sport=67, dport=68)
            / BOOTP(op=2, yiaddr="198.18.0.99")
            / DHCP(options=[("message-type", "offer"), ("server_id", server), "end"])
        )

    assert rules(run(policy, [offer(sc.GATEWAY4)])) == Counter()
    sensor = run(policy, [offer("198.18.0.77")] * 3)
    assert rules(sensor) == Counter({"ywpkt-dhcp4-rogue-server": 1})
    assert "offer of 198.18.0.99" in sensor.events[0].message


def test_cross_zone_once_per_service_flow(policy: SensorPolicy) -> None:
    frames = []
    for sport in (50001, 50002, 50003):
        frames.append(
            Ether(src=A, dst=B)
            / IP(src=sc.ATTACKER4, dst=sc.EXCHANGE4)
            / TCP(sport=sport, dport=22, flags="S")
        )
        frames.append(
            Ether(src=A, dst=B)
            / IP(src=sc.ATTACKER4, dst=sc.EXCHANGE4)
            / TCP(sport=sport, dport=443, flags="S")
        )
    sensor = run(policy, frames)
    assert rules(sensor) == Counter({"ywpkt-zone-forbidden-flow": 1})
    event = sensor.events[0]
    assert event.destination is not None and event.destination.port == 22
    assert dict(event.labels) == {
        "source_zone": "gov-extranet",
        "destination_zone": "exchange",
        "count": "1",
        "first_seen": "1000.000000",
        "last_seen": "1000.000000",
    }
    assert event.context.zone == "gov-extranet"
    sensor.close()  # one finding in its window: no summary
    assert len(sensor.events) == 1


def test_cross_zone_storm_is_one_event_per_source_zone_pair_and_service_per_window(
    policy: SensorPolicy,
) -> None:
    """One source walks tcp/22 across 40 exchange servers, and 100 s later
    across 40 others, and tcp/3389 across 5; a second source hits one server: with a
    60 s window each (source, zone pair, service) raises its first finding
    at once and one summary per window with the count and first/last seen."""
    frames: list[Packet] = []
    times: list[float] = []

    def sweep(src: str, port: int, servers: int, start: float, first: int = 20) -> None:
        for i in range(servers):
            dst = f"198.18.8.{first + i}"
            frames.append(
                Ether(src=A, dst=B)
                / IP(src=src, dst=dst)
                / TCP(sport=41000 + i, dport=port, flags="S")
            )
            times.append(start + i * 0.5)

    sweep(sc.ATTACKER4, 22, 40, 1_000.0)  # 1000.0 .. 1019.5
    sweep(sc.ATTACKER4, 3389, 5, 1_001.0)
    sweep("198.18.0.67", 22, 1, 1_002.0)
    sweep(sc.ATTACKER4, 22, 40, 1_100.0, first=100)  # other servers, a new window
    order = sorted(range(len(frames)), key=times.__getitem__)
    sensor = Sensor(policy, observer="unit")
    for k in order:
        raw = bytes(frames[k])
        sensor.feed(times[k], raw, len(raw))
    sensor.close()
    found = sorted(
        (e.source.ip if e.source else "", e.destination.port if e.destination else 0,
         int(dict(e.labels)["count"]), float(dict(e.labels)["first_seen"]),
         float(dict(e.labels)["last_seen"]))
        for e in sensor.events
        if e.rule_id == "ywpkt-zone-forbidden-flow"
    )  # fmt: skip
    assert found == sorted([
        (sc.ATTACKER4, 22, 1, 1_000.0, 1_000.0),
        (sc.ATTACKER4, 22, 40, 1_000.0, 1_019.5),
        (sc.ATTACKER4, 3389, 1, 1_001.0, 1_001.0),
        (sc.ATTACKER4, 3389, 5, 1_001.0, 1_003.0),
        ("198.18.0.67", 22, 1, 1_002.0, 1_002.0),
        (sc.ATTACKER4, 22, 1, 1_100.0, 1_100.0),
        (sc.ATTACKER4, 22, 40, 1_100.0, 1_119.5),
    ])  # fmt: skip


def test_cross_zone_direction_comes_from_the_handshake(policy: SensorPolicy) -> None:
    # Management may reach everything on tcp/22; the reply direction is not a new flow.
    mgmt = "198.18.12.10"
    frames = [
        Ether(src=A, dst=B)
        / IP(src=mgmt, dst=sc.EXCHANGE4)
        / TCP(sport=50000, dport=22, flags="S"),
        Ether(src=A, dst=B)
        / IP(src=sc.EXCHANGE4, dst=mgmt)
        / TCP(sport=22, dport=50000, flags="SA"),
        Ether(src=A, dst=B)
        / IP(src=sc.EXCHANGE4, dst=mgmt)
        / TCP(sport=22, dport=50000, flags="PA"),
    ]
    assert rules(run(policy, frames)) == Counter()
    # Mid-stream capture (no SYN): the lower port is the service.
    late = [
        Ether(src=A, dst=B)
        / IP(src=sc.EXCHANGE4, dst=mgmt)
        / TCP(sport=22, dport=50000, flags="PA")
    ]
    assert rules(run(policy, late)) == Counter()


def test_internet_to_extranet_is_forbidden(policy: SensorPolicy) -> None:
    outside = "198.19.5.5"  # outside the test plan (198.18.0.0/16): the internet zone
    sensor = run(
        policy, [Ether(src=A, dst=B) / IP(src=outside, dst=sc.VICTIM4) / TCP(dport=80, flags="S")]
    )
    assert rules(sensor) == Counter({"ywpkt-zone-forbidden-flow": 1})
    assert "(internet) -> 198.18.0.20 (gov-extranet) tcp/80" in sensor.events[0].message


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({"nosuch": {}}, "thresholds.nosuch: unknown detection"),
        ({"scan": {"port_threshold": 3}}, "thresholds.scan.port_threshold: unknown threshold"),
        (
            {"scan": {"port_scan_threshold": "many"}},
            "thresholds.scan.port_scan_threshold: expected a number",
        ),
        (
            {"arp_storm": {"window_s": -1}},
            "thresholds.arp_storm.window_s: expected a positive number",
        ),
        ({"scan": {"port_scan_threshold": float("inf")}}, "expected a finite positive number"),
        ({"zones": {"window_s": float("nan")}}, "expected a finite positive number"),
        ({"flows": {"idle_timeout_s": True}}, "thresholds.flows.idle_timeout_s: expected a number"),
    ],
)
def test_bad_threshold_overrides(
    policy: SensorPolicy, thresholds: dict[str, dict[str, object]], message: str
) -> None:
    policy.thresholds = thresholds
    with pytest.raises(ThresholdError, match=message):
        Sensor(policy)


def test_every_rule_id_is_stable_and_prefixed() -> None:
    from monitors.packets.detections import DETECTIONS

    ids = [rule.id for d in DETECTIONS for rule in d.signatures]
    assert len(ids) == len(set(ids)) == 12
    assert all(i.startswith("ywpkt-") for i in ids)
    # Read from the source: a module compiled with mypyc keeps no docstring.
    root = Path(__file__).resolve().parents[2]
    for d in DETECTIONS:
        source = root / (d.__module__.replace(".", "/") + ".py")
        assert (ast.get_docstring(ast.parse(source.read_text())) or "").strip(), source


def test_events_are_filed_under_their_place_in_the_estate(policy: SensorPolicy) -> None:
    county_host = "198.18.136.10"  # on county node tx's LAN
    sensor = run(policy, [syn(sc.VICTIM4, p, src=county_host) for p in range(1, 20)])
    [event] = sensor.events
    assert event.context.node == "tx" and event.context.level == "county"
    assert event.context.zone == "gov-extranet"
    sensor = run(policy, sc.cross_zone_handshakes())
    assert {e.context.zone for e in sensor.events} == {"gov-extranet"}
    tenant_host = "198.18.0.10"  # jwzh-app-1, tenant gaj in gov-extranet
    sensor = run(policy, [syn(sc.EXCHANGE4, 22, src=tenant_host)])
    assert (sensor.events[0].context.tenant, sensor.events[0].context.zone) == (
        "gaj",
        "gov-extranet",
    )
