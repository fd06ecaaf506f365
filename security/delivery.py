"""Pushing warnings out: Prometheus Alertmanager and a generic JSON webhook.

Alertmanager forgets an alert it has not heard of for `resolve_timeout`, so
active warnings are re-sent periodically (the pipeline's tick), and a
resolved warning is sent once more with `endsAt` so it closes at once.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from security.engine import Change
from security.levels import ALERT_SEVERITY, CHINESE, GRADE
from security.warnings import Warning

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A receiver that did not take the notification (one line)."""


class Sink(Protocol):
    name: str

    def send(self, changes: Sequence[Change], now: datetime) -> None: ...


def _post(url: str, body: Any, timeout: float, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:200].decode(errors="replace")
        raise DeliveryError(f"{url}: HTTP {exc.code} {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"{url}: {getattr(exc, 'reason', exc)}") from exc


def alert(warning: Warning, now: datetime, generator_url: str | None = None) -> dict[str, Any]:
    """One Alertmanager v2 alert for a warning."""
    labels = {
        "alertname": warning.rule_id,
        "severity": ALERT_SEVERITY[warning.level],
        "warning_level": warning.level,
        "warning_id": warning.id,
        "rule_id": warning.rule_id,
    }
    labels.update(
        {
            k: v
            for k, v in warning.context.items()
            if k in ("county", "tenant", "zone", "node", "link", "pair")
        }
    )
    body: dict[str, Any] = {
        "labels": labels,
        "annotations": {
            "summary": f"[{GRADE[warning.level]} {CHINESE[warning.level]}] {warning.summary}",
            "description": warning.description(),
            # Not a label: labels are the alert's identity, and status changes.
            "status": warning.status,
        },
        "startsAt": warning.first_seen.isoformat(),
    }
    if warning.status == "resolved":
        # Never in the future: Alertmanager would keep the alert firing until then.
        body["endsAt"] = min(warning.resolved_at or now, now).isoformat()
    if generator_url:
        body["generatorURL"] = generator_url
    return body


class Alertmanager:
    def __init__(self, url: str, timeout: float = 5.0, generator_url: str | None = None) -> None:
        self.name = "alertmanager"
        self.url = url.rstrip("/") + "/api/v2/alerts"
        self.timeout = timeout
        self.generator_url = generator_url

    def send(self, changes: Sequence[Change], now: datetime) -> None:
        alerts = []
        for change in changes:
            if change.previous_level is not None and change.previous_level != change.warning.level:
                # The level is a label, so the escalated warning is a new alert:
                # end the one at the old level.
                old = replace(change.warning, level=change.previous_level, status="resolved")
                alerts.append(alert(old, now, self.generator_url))
            alerts.append(alert(change.warning, now, self.generator_url))
        if alerts:
            _post(self.url, alerts, self.timeout)


class Webhook:
    """POSTs {"changes": [{"change": kind, "warning": {...}}]} to any URL."""

    def __init__(self, url: str, timeout: float = 5.0, token_env: str | None = None) -> None:
        self.name = "webhook"
        self.url = url
        self.timeout = timeout
        self.token_env = token_env

    def send(self, changes: Sequence[Change], now: datetime) -> None:
        if not changes:
            return
        headers: dict[str, str] = {}
        if self.token_env:
            import os

            token = os.environ.get(self.token_env)
            if not token:
                raise DeliveryError(
                    f"webhook token: environment variable {self.token_env} is not set"
                )
            headers["Authorization"] = f"Bearer {token}"
        body = {
            "sent_at": now.isoformat(),
            "changes": [{"change": c.kind, "warning": c.warning.to_dict()} for c in changes],
        }
        _post(self.url, body, self.timeout, headers)
