"""Prometheus metrics of the trap receiver, read at scrape time.

registry().register(TrapCollector(service))
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitors.traps.service import TrapService


class TrapCollector(Collector):
    def __init__(self, service: TrapService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        stats, counters = self.service.receiver.stats, self.service.counters
        datagrams = CounterMetricFamily(
            "yunwang_traps_datagrams", "UDP datagrams that reached the trap receiver."
        )
        datagrams.add_metric([], stats.datagrams)
        yield datagrams
        received = CounterMetricFamily(
            "yunwang_traps_received",
            "Authenticated notifications, by kind (trap or inform).",
            labels=["kind"],
        )
        for kind in ("trap", "inform"):
            received.add_metric([kind], stats.notifications[kind])
        yield received
        actions = CounterMetricFamily(
            "yunwang_traps_events",
            "Notifications from estate devices, by what they said.",
            labels=["action"],
        )
        for action, count in sorted(counters.by_action.items()):
            actions.add_metric([action], count)
        yield actions
        unknown = CounterMetricFamily(
            "yunwang_traps_unknown_senders",
            "Authenticated notifications from an address that is no estate device.",
        )
        unknown.add_metric([], counters.unknown_senders)
        yield unknown
        rejected = CounterMetricFamily(
            "yunwang_traps_rejected_datagrams",
            "Datagrams dropped: malformed, oversized, unauthenticated, forged.",
            labels=["reason"],
        )
        for reason, count in sorted(stats.rejected.items()):
            rejected.add_metric([reason], count)
        yield rejected
        repolls = CounterMetricFamily(
            "yunwang_traps_repolls", "Out-of-cycle polls of a pair's devices after a trap."
        )
        repolls.add_metric([], counters.repolls)
        yield repolls
        engines = GaugeMetricFamily(
            "yunwang_traps_engines_learned", "Device engine ids learned from authentic traps."
        )
        engines.add_metric([], stats.engines_learned)
        yield engines
