"""The Prometheus exporter: custom collectors read the latest poll at scrape time.

One registry per process (`registry()`); every area adds its own collector
to it without touching this file:

    from monitors.exporter import registry
    registry().register(MyPacketCollector())     # a prometheus_client Collector

`serve()` exposes that registry on 127.0.0.1 by default. The SNMP/link
collector here reports on itself too (scrape duration, poll age).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitors.links import PAIR_STATES
from monitors.snmp.collection import Collection
from security import metrics
from security.metrics import MetricsEndpoint

DEFAULT_HOST = metrics.DEFAULT_HOST
DEFAULT_PORT = 9817
_REGISTRY: CollectorRegistry | None = None

LINK_LABELS = ["link", "pair", "role", "level", "county", "township"]
IF_LABELS = ["device", "interface", "ifindex", "link"]


def registry() -> CollectorRegistry:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = CollectorRegistry(auto_describe=True)
    return _REGISTRY


def serve(port: int = DEFAULT_PORT, host: str = DEFAULT_HOST) -> MetricsEndpoint:
    """This process's registry on host:port, served from a thread."""
    return metrics.serve(registry(), port, host)


class CollectionCollector(Collector):
    """Links, pairs, interfaces and the poller itself, from `collection.latest`."""

    def __init__(self, collection: Collection, all_interfaces: bool = False) -> None:
        self.collection = collection
        self.all_interfaces = all_interfaces

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        snapshot = self.collection.latest
        if snapshot is not None:
            yield from self._links(snapshot)
            yield from self._interfaces(snapshot)
            yield from self._devices(snapshot)
        errors = CounterMetricFamily(
            "yunwang_snmp_errors",
            "SNMP poll failures by device and kind",
            labels=["device", "kind"],
        )
        for (device, kind), count in sorted(self.collection.poller.errors.items()):
            errors.add_metric([device, kind], count)
        yield errors
        stats = self.collection.poller.transport.stats
        malformed = CounterMetricFamily(
            "yunwang_snmp_malformed_responses", "Datagrams that were not valid SNMP responses"
        )
        malformed.add_metric([], stats.malformed)
        yield malformed
        scrape = GaugeMetricFamily(
            "yunwang_exporter_scrape_duration_seconds", "Time this collector took to render"
        )
        scrape.add_metric([], time.perf_counter() - started)
        yield scrape

    def _links(self, snapshot: Any) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "yunwang_link_up", "Link carrying (1) or down/silently dead (0)", labels=LINK_LABELS
        )
        util = GaugeMetricFamily(
            "yunwang_link_utilisation_ratio",
            "Busiest direction over owed bandwidth",
            labels=LINK_LABELS,
        )
        owed = GaugeMetricFamily(
            "yunwang_link_owed_bandwidth_bits_per_second",
            "Bandwidth the level is owed",
            labels=LINK_LABELS,
        )
        speed = GaugeMetricFamily(
            "yunwang_link_speed_bits_per_second",
            "Negotiated speed (slower end)",
            labels=LINK_LABELS,
        )
        receive = GaugeMetricFamily(
            "yunwang_link_receive_bits_per_second",
            "Inbound rate at the child end",
            labels=LINK_LABELS,
        )
        transmit = GaugeMetricFamily(
            "yunwang_link_transmit_bits_per_second",
            "Outbound rate at the child end",
            labels=LINK_LABELS,
        )
        neighbour = GaugeMetricFamily(
            "yunwang_link_ospf_neighbour_full",
            "OSPF neighbour on the link is Full",
            labels=LINK_LABELS,
        )
        states = GaugeMetricFamily(
            "yunwang_link_pair_state", "1 for the pair's current state",
            labels=["pair", "level", "county", "township", "state"],
        )  # fmt: skip
        for view in snapshot.views:
            pair = view.pair
            for reading in (view.primary, view.backup):
                link = reading.link
                labels = [
                    link.id,
                    pair.id,
                    link.role,
                    link.level,
                    link.county or "",
                    link.township or "",
                ]
                owed.add_metric(labels, link.bandwidth_bps)
                if reading.up is not None:
                    up.add_metric(labels, 0 if (not reading.up or reading.silent_failure) else 1)
                if reading.utilisation is not None:
                    util.add_metric(labels, reading.utilisation)
                if reading.speed_bps:
                    speed.add_metric(labels, reading.speed_bps)
                if reading.receive_bps is not None:
                    receive.add_metric(labels, reading.receive_bps)
                if reading.transmit_bps is not None:
                    transmit.add_metric(labels, reading.transmit_bps)
                if reading.neighbour_full is not None:
                    neighbour.add_metric(labels, 1 if reading.neighbour_full else 0)
            place = [
                pair.id,
                pair.primary.level,
                pair.primary.county or "",
                pair.primary.township or "",
            ]
            for state in PAIR_STATES:
                states.add_metric([*place, state], 1 if view.state == state else 0)
        yield from (up, util, owed, speed, receive, transmit, neighbour, states)

    def _interfaces(self, snapshot: Any) -> Iterator[Metric]:
        families = {
            name: CounterMetricFamily(f"yunwang_interface_{name}", help_text, labels=IF_LABELS)
            for name, help_text in (
                ("receive_bytes", "Octets received (HC counter when the device has one)"),
                ("transmit_bytes", "Octets sent"),
                ("receive_errors", "Inbound errors"),
                ("transmit_errors", "Outbound errors"),
                ("receive_discards", "Inbound discards"),
                ("transmit_discards", "Outbound discards"),
            )
        }
        oper = GaugeMetricFamily("yunwang_interface_up", "ifOperStatus is up", labels=IF_LABELS)
        linked: dict[tuple[str, int], str] = {}
        for view in snapshot.views:
            for reading in (view.primary, view.backup):
                for end in reading.ends:
                    linked[(end.device, end.interface.index)] = reading.link.id
        for poll in snapshot.polls.values():
            for row in poll.interfaces:
                link = linked.get((poll.device, row.index))
                if link is None and not self.all_interfaces:
                    continue
                labels = [poll.device, row.name, str(row.index), link or ""]
                oper.add_metric(labels, 1 if row.up else 0)
                for name, value in (
                    ("receive_bytes", row.in_octets), ("transmit_bytes", row.out_octets),
                    ("receive_errors", row.in_errors), ("transmit_errors", row.out_errors),
                    ("receive_discards", row.in_discards), ("transmit_discards", row.out_discards),
                ):  # fmt: skip
                    if value is not None:
                        families[name].add_metric(labels, value)
        yield oper
        yield from families.values()

    def _devices(self, snapshot: Any) -> Iterator[Metric]:
        duration = GaugeMetricFamily(
            "yunwang_snmp_poll_duration_seconds", "Last poll of the device", labels=["device"]
        )
        state = GaugeMetricFamily(
            "yunwang_snmp_device_state", "1 for the device's state", labels=["device", "state"]
        )
        varbinds = GaugeMetricFamily(
            "yunwang_snmp_poll_varbinds", "Varbinds read in the last poll", labels=["device"]
        )
        for poll in snapshot.polls.values():
            duration.add_metric([poll.device], poll.duration_s)
            varbinds.add_metric([poll.device], poll.varbinds)
            for name in ("reachable", "slow", "unreachable"):
                state.add_metric([poll.device, name], 1 if poll.state == name else 0)
        cycle = GaugeMetricFamily("yunwang_snmp_cycle_duration_seconds", "Last full poll cycle")
        cycle.add_metric([], snapshot.cycle_s)
        last = GaugeMetricFamily("yunwang_snmp_last_cycle_timestamp_seconds", "When it ran")
        last.add_metric([], snapshot.at.timestamp())
        yield from (duration, state, varbinds, cycle, last)
