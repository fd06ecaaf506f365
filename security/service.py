"""What `yunwang watch` needs from security/, in one place.

    config = WatchConfig(store="sqlite:///...", alertmanager="http://127.0.0.1:9093")
    security = SecurityService(config, estate=estate)
    security.start()                 # metrics on 127.0.0.1:port, tick thread
    security.pipeline.submit(events) # from every collector, any thread
    ...
    security.stop()

Everything is optional: with no configuration events and warnings go to
SQLite under $YUNWANG_HOME and nothing is pushed anywhere.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry

from estate import Estate
from security.audit import AuditError, AuditTrail, record
from security.audit_anchor import Anchor, HeadAnchor
from security.context import EstateContext
from security.delivery import Alertmanager, Sink, Webhook
from security.metrics import MetricsEndpoint, serve
from security.pipeline import Pipeline
from security.rulebook import load_rules
from security.store import MIN_RETENTION_DAYS, open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchConfig:
    store: str | None = None  # sqlite:///PATH or http://HOST:9200/?namespace=NS
    retention_days: int = MIN_RETENTION_DAYS
    alertmanager: str | None = None  # base URL, e.g. http://127.0.0.1:9093
    webhook: str | None = None
    webhook_token_env: str | None = None  # secret by reference: the variable's name
    metrics_port: int | None = 9464  # None: do not serve (register the collector yourself)
    metrics_address: str = "127.0.0.1"
    tick_seconds: float = 1.0


class SecurityService:
    """The pipeline plus its clock and its metrics endpoint."""

    def __init__(
        self,
        config: WatchConfig,
        estate: Estate | None = None,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self.config = config
        sinks: list[Sink] = []
        if config.alertmanager:
            sinks.append(Alertmanager(config.alertmanager))
        if config.webhook:
            sinks.append(Webhook(config.webhook, token_env=config.webhook_token_env))
        self.pipeline = Pipeline(
            open_store(config.store, config.retention_days),
            rules=load_rules(),
            sinks=sinks,
            enrich=EstateContext(estate).enrich if estate is not None else None,
        )
        self.registry = registry
        self._collector = self.pipeline.collector()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="security-tick", daemon=True)
        self._endpoint: MetricsEndpoint | None = None
        self._anchor = HeadAnchor(AuditTrail(), self.pipeline.submit)

    def start(self) -> None:
        self.registry.register(self._collector)
        if self.config.metrics_port is not None:
            self._endpoint = serve(
                self.registry, self.config.metrics_port, self.config.metrics_address
            )
        self._ticker.start()
        record(
            action="security.start",
            target=self.config.store or "sqlite (default)",
            detail={
                "sinks": [s.name for s in self.pipeline.sinks],
                "rules": len(self.pipeline.book.rules),
            },
        )

    def anchor_audit(self) -> None:
        """Once a watch cycle: the audit trail's head, if it moved, into the store and the log."""
        try:
            self._anchor.update()
        except (AuditError, OSError) as exc:
            log.error("audit anchor: %s", exc)

    @property
    def audit_head(self) -> Anchor | None:
        """The audit trail's head as last anchored (None before the first cycle)."""
        return self._anchor.latest

    @property
    def metrics_url(self) -> str | None:
        return self._endpoint.url if self._endpoint is not None else None

    def _tick(self) -> None:
        while not self._stop.wait(self.config.tick_seconds):
            self.pipeline.tick()

    def stop(self) -> None:
        self._stop.set()
        if self._ticker.is_alive():
            self._ticker.join()
        if self._endpoint is not None:
            self._endpoint.close()
        self.registry.unregister(self._collector)
        self.pipeline.close()
        record(action="security.stop", target=self.config.store or "sqlite (default)")
