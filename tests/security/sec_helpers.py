"""Event factories shared by the security tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from security.events import Context, Endpoint, Event

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def make_event(
    seconds: float = 0,
    dataset: str = "yunwang.links",
    action: str = "pair-state-changed",
    message: str = "county pair state changed",
    **context: str,
) -> Event:
    labels = tuple(sorted((k[6:], v) for k, v in context.items() if k.startswith("label_")))
    ctx = {k: v for k, v in context.items() if not k.startswith(("label_", "src"))}
    source = Endpoint(ip=context["src"]) if "src" in context else None
    return Event(
        timestamp=T0 + timedelta(seconds=seconds),
        dataset=dataset,
        action=action,
        message=message,
        context=Context(**ctx),
        labels=labels,
        source=source,
    )
