"""Posture and warning metrics, computed at scrape time from the live pipeline.

    REGISTRY.register(pipeline.collector())

Names follow Prometheus conventions; `warning_level` uses the same four
words as everywhere else. `serve()` is the one way any yunwang process
exposes a registry over HTTP (watch, collect, sense).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from security.levels import LEVELS

if TYPE_CHECKING:
    from security.pipeline import Pipeline


DEFAULT_HOST = "127.0.0.1"


@dataclass(frozen=True)
class MetricsEndpoint:
    """A registry served over HTTP from a daemon thread."""

    server: WSGIServer
    thread: threading.Thread
    host: str

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server.server_port}/metrics"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve(registry: CollectorRegistry, port: int, host: str = DEFAULT_HOST) -> MetricsEndpoint:
    """Serve `registry` on host:port (0: any free port); OSError if it cannot listen."""
    server, thread = start_http_server(port, addr=host, registry=registry)
    return MetricsEndpoint(server, thread, host)


class PostureCollector(Collector):
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        pipeline = self.pipeline
        now = pipeline.clock()
        active = pipeline.active_warnings()
        scores = pipeline.scores(now)

        posture = GaugeMetricFamily(
            "yunwang_posture_score",
            "Security posture score 0-100 (docs/posture.md)",
            labels=["scope", "name"],
        )
        component = GaugeMetricFamily(
            "yunwang_posture_component_score",
            "One component of the posture score, 0-100",
            labels=["scope", "name", "component"],
        )
        for s in scores:
            posture.add_metric([s.kind, s.name], s.score)
            for name, value in s.components.items():
                if value is not None:
                    component.add_metric([s.kind, s.name, name], value)
        yield posture
        yield component

        by_status = GaugeMetricFamily(
            "yunwang_warnings",
            "Active early warnings by level and status",
            labels=["warning_level", "status"],
        )
        oldest = GaugeMetricFamily(
            "yunwang_warning_oldest_age_seconds",
            "Age of the oldest active warning per level",
            labels=["warning_level"],
        )
        for level in LEVELS:
            of_level = [w for w in active if w.level == level]
            for status in ("open", "acknowledged"):
                by_status.add_metric(
                    [level, status], sum(1 for w in of_level if w.status == status)
                )
            oldest.add_metric([level], max((w.age_seconds(now) for w in of_level), default=0.0))
        yield by_status
        yield oldest

        info = GaugeMetricFamily(
            "yunwang_warning_active",
            "1 for each active warning (labels identify it)",
            labels=["warning_id", "rule_id", "warning_level", "status", "county", "tenant", "zone"],
        )
        for w in active:
            ctx = w.context
            info.add_metric(
                [
                    w.id,
                    w.rule_id,
                    w.level,
                    w.status,
                    ctx.get("county", ""),
                    ctx.get("tenant", ""),
                    ctx.get("zone", ""),
                ],
                1,
            )
        yield info

        events = CounterMetricFamily(
            "yunwang_security_events", "Events taken in by the pipeline", labels=["dataset"]
        )
        for dataset, count in sorted(pipeline.events_total.items()):
            events.add_metric([dataset], count)
        yield events
        changes = CounterMetricFamily(
            "yunwang_warning_changes", "Warning changes by kind", labels=["change"]
        )
        for kind, count in sorted(pipeline.changes_total.items()):
            changes.add_metric([kind], count)
        yield changes
        errors = CounterMetricFamily(
            "yunwang_security_errors", "Store and delivery failures", labels=["component"]
        )
        errors.add_metric(["store"], pipeline.store_errors)
        for sink, count in sorted(pipeline.delivery_errors.items()):
            errors.add_metric([sink], count)
        yield errors
        yield from _store_metrics(pipeline)
        duration = GaugeMetricFamily(
            "yunwang_security_scrape_duration_seconds", "Time to compute these metrics"
        )
        duration.add_metric([], time.perf_counter() - started)
        yield duration


def _store_metrics(pipeline: Pipeline) -> Iterator[Metric]:
    health = pipeline.store.health()
    held = GaugeMetricFamily(
        "yunwang_store_held_events",
        "Events kept in memory because the spool's disk could not take them",
    )
    held.add_metric([], health.held_events)
    yield held
    writer = pipeline.writer
    yield GaugeMetricFamily(
        "yunwang_warning_writes_pending",
        "Warning saves and deliveries waiting for the writer",
        len(writer),
    )
    yield CounterMetricFamily(
        "yunwang_warning_writer_waits",
        "Times grading waited for the warning writer (back-pressure)",
        writer.waits,
    )
    for name, value, help_text in (
        ("spool_write_errors", health.spool_write_errors, "Spool writes that failed (disk full)"),
        ("refused_batches", health.refused_batches, "Bulk requests refused for good, spooled"),
        ("rejected_events", health.rejected_events, "Events refused for good, kept aside"),
        ("quarantined_lines", health.quarantined_lines, "Torn spool lines set aside"),
    ):
        counter = CounterMetricFamily(f"yunwang_store_{name}", help_text)
        counter.add_metric([], value)
        yield counter
