"""Prometheus view of a sensor: a custom Collector, read at scrape time.

Like snmp_exporter, nothing is pushed into client-library metric objects on
the hot path; the collector reads the sensor's plain counters when scraped.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .detections import DETECTIONS
from .sensor import Sensor


class SensorCollector(Collector):
    def __init__(self, sensor: Sensor, observer: str) -> None:
        self._sensor = sensor
        self._observer = observer

    def collect(self) -> Iterator[Metric]:
        stats = self._sensor.stats  # read while capture runs: plain ints, copied below
        labels = ["observer"]
        values = [self._observer]
        for name, help_text, value in (
            ("seen", "Frames the sensor received", stats.seen),
            ("parsed", "Frames decoded and run through every detection", stats.parsed),
            (
                "malformed",
                "Frames that were truncated, bogus or crashed a decoder",
                stats.malformed,
            ),
            ("dropped", "Frames the kernel dropped before the sensor read them", stats.dropped),
            ("unsupported", "Frames of an ethertype the sensor does not read", stats.unsupported),
            (
                "detection_errors",
                "Frames a detection failed on (counted as malformed too; a sensor bug)",
                stats.detection_errors,
            ),
        ):
            family = CounterMetricFamily(f"yunwang_packets_{name}", help_text, labels=labels)
            family.add_metric(values, value)
            yield family
        events = CounterMetricFamily(
            "yunwang_packets_events", "Events raised, by rule", labels=["observer", "rule"]
        )
        known = {s.id for detection in DETECTIONS for s in detection.signatures}
        for detection in DETECTIONS:
            for signature in detection.signatures:
                events.add_metric([self._observer, signature.id], stats.events.get(signature.id, 0))
        for rule_id, count in list(stats.events.items()):
            if rule_id not in known:
                events.add_metric([self._observer, rule_id], count)
        yield events
        flows = GaugeMetricFamily(
            "yunwang_packets_flows_tracked", "Flows in the flow table", labels=labels
        )
        flows.add_metric(values, len({id(f) for f in list(self._sensor.flows.values())}))
        yield flows
        yield from self._adoption()

    def _adoption(self) -> Iterator[Metric]:
        snapshot = self._sensor.adoption.snapshot()
        seg_labels = ["observer", "segment", "family"]
        flow_total = CounterMetricFamily(
            "yunwang_packets_segment_flows", "Flows seen per segment and family", labels=seg_labels
        )
        byte_total = CounterMetricFamily(
            "yunwang_packets_segment_bytes", "Bytes seen per segment and family", labels=seg_labels
        )
        flow_ratio = GaugeMetricFamily(
            "yunwang_packets_ipv6_flow_ratio",
            "Share of a segment's flows that use IPv6",
            labels=["observer", "segment"],
        )
        byte_ratio = GaugeMetricFamily(
            "yunwang_packets_ipv6_byte_ratio",
            "Share of a segment's bytes carried over IPv6",
            labels=["observer", "segment"],
        )
        segments = sorted({segment for segment, _ in snapshot})
        for segment in segments:
            v4 = snapshot.get((segment, 4))
            v6 = snapshot.get((segment, 6))
            for family, counts in (("ipv4", v4), ("ipv6", v6)):
                if counts is not None:
                    flow_total.add_metric([self._observer, segment, family], counts.flows)
                    byte_total.add_metric([self._observer, segment, family], counts.bytes)
            flows4, flows6 = (v4.flows if v4 else 0), (v6.flows if v6 else 0)
            bytes4, bytes6 = (v4.bytes if v4 else 0), (v6.bytes if v6 else 0)
            if flows4 + flows6:
                flow_ratio.add_metric([self._observer, segment], flows6 / (flows4 + flows6))
            if bytes4 + bytes6:
                byte_ratio.add_metric([self._observer, segment], bytes6 / (bytes4 + bytes6))
        yield from (flow_total, byte_total, flow_ratio, byte_ratio)
