"""A producer's document, read back by the centre: checked before it is graded.

The events stream is written by every producer's own credentials; a
compromised or broken producer can put any JSON there. A document is graded
only if it has the shape `Event.to_ecs` writes (every field of its type,
texts bounded); anything else is counted and skipped, costing only itself,
never the feed thread or the rules downstream.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from security.events import Context, Endpoint, Event

MAX_TEXT = 16_384  # a message; ECS keeps keyword fields far shorter
MAX_KEY = 512  # ids, datasets, actions, names, addresses, labels
MAX_ITEMS = 64  # categories, types, labels


class MalformedDocument(ValueError):
    pass


def ingested_event(source: object) -> tuple[str, str, Event]:
    """(event id, ingested time, the event) of a producer's document, or
    MalformedDocument saying what is wrong with it."""
    if not isinstance(source, dict):
        raise MalformedDocument("not an object")
    meta = source.get("event")
    if not isinstance(meta, dict):
        raise MalformedDocument("event: not an object")
    event_id = _text(meta.get("id"), "event.id", MAX_KEY)
    ingested = _text(meta.get("ingested"), "event.ingested", MAX_KEY)
    try:
        when = datetime.fromisoformat(ingested)
        event = Event.from_ecs(source)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedDocument(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    if when.tzinfo is None or event.timestamp.tzinfo is None:
        raise MalformedDocument("a time without its zone")
    _check(event)
    return event_id, ingested, event


def _check(event: Event) -> None:
    _text(event.message, "message", MAX_TEXT)
    for name in ("dataset", "action", "kind"):
        _text(getattr(event, name), f"event.{name}", MAX_KEY)
    for name in ("outcome", "rule_id", "rule_name", "transport", "network_type"):
        _optional(getattr(event, name), name, MAX_KEY)
    for name in ("category", "type"):
        values = getattr(event, name)
        if len(values) > MAX_ITEMS:
            raise MalformedDocument(f"event.{name}: more than {MAX_ITEMS} values")
        for value in values:
            _text(value, f"event.{name}", MAX_KEY)
    if isinstance(event.severity, bool) or not 0 <= event.severity <= 100:
        raise MalformedDocument("event.severity: expected 0-100")
    for name in ("observer", "source", "destination"):
        _endpoint(getattr(event, name), name)
    for f in fields(Context):
        _optional(getattr(event.context, f.name), f"yunwang.{f.name}", MAX_KEY)
    if len(event.labels) > MAX_ITEMS:
        raise MalformedDocument(f"labels: more than {MAX_ITEMS}")
    for key, value in event.labels:
        _text(key, "labels", MAX_KEY)
        _text(value, f"labels.{key}", MAX_KEY)


def _endpoint(endpoint: Endpoint | None, where: str) -> None:
    if endpoint is None:
        return
    for name in ("ip", "mac", "name"):
        _optional(getattr(endpoint, name), f"{where}.{name}", MAX_KEY)
    port = endpoint.port
    if port is not None and (
        isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535
    ):
        raise MalformedDocument(f"{where}.port: expected 0-65535")


def _optional(value: Any, where: str, limit: int) -> None:
    if value is not None:
        _text(value, where, limit)


def _text(value: Any, where: str, limit: int) -> str:
    if not isinstance(value, str):
        raise MalformedDocument(f"{where}: expected text, found {type(value).__name__}")
    if len(value) > limit:
        raise MalformedDocument(f"{where}: longer than {limit} characters")
    return value
