"""Retention for the data stream, where ILM is not there to do it.

ILM deletes a backing index `retention_days` after it rolled over. On
clusters without ILM (the minimal distribution the tests use) the store
sweeps the same way: whole backing indices go once their newest event is
past retention; a write index that has expired is rolled over first, since
Elasticsearch never deletes the write index of a data stream.
"""

from __future__ import annotations

from datetime import UTC, datetime

from elasticsearch import Elasticsearch, NotFoundError


def _generation(index: str) -> int:
    """.ds-<stream>-<yyyy.mm.dd>-<generation>: the write index has the highest generation."""
    return int(index.rsplit("-", 1)[-1])


def backing_indices(client: Elasticsearch, stream: str) -> list[str]:
    """Oldest first; the last is the write index."""
    info = client.indices.get(index=stream, expand_wildcards="all")
    return sorted((name for name in info if name.startswith(".ds-")), key=_generation)


def newest_event(client: Elasticsearch, index: str) -> datetime | None:
    response = client.search(index=index, size=0, aggs={"newest": {"max": {"field": "@timestamp"}}})
    value = response["aggregations"]["newest"].get("value")
    return datetime.fromtimestamp(value / 1000, UTC) if value else None


def sweep(client: Elasticsearch, stream: str, cutoff: datetime) -> int:
    """Delete the backing indices whose newest event is older than `cutoff`; events deleted."""
    try:
        indices = backing_indices(client, stream)
    except NotFoundError:
        return 0
    expired = [i for i in indices if (ts := newest_event(client, i)) is not None and ts < cutoff]
    if indices and indices[-1] in expired:
        client.indices.rollover(alias=stream)
    deleted = 0
    for index in expired:
        deleted += int(client.count(index=index)["count"])
        client.indices.delete(index=index)
    return deleted
