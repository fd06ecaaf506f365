"""What the Elasticsearch store installs: ILM policy, index template, warnings index.

Events go to the data stream `logs-yunwang.events-<namespace>` (the data
stream naming scheme `type-dataset-namespace`), mapped with ECS field types
so Kibana and ECS-aware tools read them without a translation layer.
"""

from __future__ import annotations

from typing import Any

TEMPLATE_NAME = "logs-yunwang.events"
POLICY_NAME = "logs-yunwang.events"
ROLLOVER_MAX_AGE = "1d"
ROLLOVER_MAX_SHARD_SIZE = "50gb"


def data_stream(namespace: str) -> str:
    return f"logs-yunwang.events-{namespace}"


def warnings_index(namespace: str) -> str:
    return f"yunwang-warnings-{namespace}"


def ilm_policy(retention_days: int) -> dict[str, Any]:
    """Roll over daily (or at 50 GB a shard); delete `retention_days` after rollover."""
    return {
        "phases": {
            "hot": {
                "min_age": "0ms",
                "actions": {
                    "rollover": {
                        "max_age": ROLLOVER_MAX_AGE,
                        "max_primary_shard_size": ROLLOVER_MAX_SHARD_SIZE,
                    }
                },
            },
            "delete": {"min_age": f"{retention_days}d", "actions": {"delete": {}}},
        },
        "_meta": {"managed_by": "yunwang", "why": "Cybersecurity Law art. 21: >= 6 months"},
    }


_KEYWORD = {"type": "keyword", "ignore_above": 1024}


def _endpoint() -> dict[str, Any]:
    return {
        "properties": {
            "ip": {"type": "ip"},
            "port": {"type": "long"},
            "mac": _KEYWORD,
            "name": _KEYWORD,
        }
    }


ECS_MAPPINGS: dict[str, Any] = {
    "dynamic_templates": [
        {"labels_as_keywords": {"path_match": "labels.*", "mapping": _KEYWORD}},
        {"strings_as_keywords": {"match_mapping_type": "string", "mapping": _KEYWORD}},
    ],
    "properties": {
        "@timestamp": {"type": "date"},
        "message": {"type": "text"},
        "ecs": {"properties": {"version": _KEYWORD}},
        "event": {
            "properties": {
                "id": _KEYWORD,
                "kind": _KEYWORD,
                "dataset": _KEYWORD,
                "action": _KEYWORD,
                "category": _KEYWORD,
                "type": _KEYWORD,
                "outcome": _KEYWORD,
                "severity": {"type": "long"},
                "ingested": {"type": "date"},
            }
        },
        "rule": {"properties": {"id": _KEYWORD, "name": _KEYWORD}},
        "observer": _endpoint(),
        "source": _endpoint(),
        "destination": _endpoint(),
        "network": {"properties": {"transport": _KEYWORD, "type": _KEYWORD}},
        "labels": {"type": "object"},
        "yunwang": {
            "properties": {
                name: _KEYWORD
                for name in (
                    "node",
                    "device",
                    "link",
                    "pair",
                    "zone",
                    "tenant",
                    "system",
                    "host",
                    "county",
                    "township",
                    "level",
                    "state",
                )
            }
        },
    },
}


def index_template(namespace_pattern: str, retention_days: int, use_ilm: bool) -> dict[str, Any]:
    settings: dict[str, Any] = {"index.auto_expand_replicas": "0-1"}
    template: dict[str, Any] = {"settings": settings, "mappings": ECS_MAPPINGS}
    if use_ilm:
        settings["index.lifecycle.name"] = POLICY_NAME
    else:
        # Clusters without ILM (the minimal distribution) get data stream
        # lifecycle retention; the store's sweep enforces it where that is absent too.
        template["lifecycle"] = {"data_retention": f"{retention_days}d"}
    return {
        "index_patterns": [f"logs-yunwang.events-{namespace_pattern}"],
        "data_stream": {},
        # Above the built-in logs-*-* template (priority 100).
        "priority": 200,
        "template": template,
        "_meta": {"managed_by": "yunwang", "ecs_version": "8.11.0"},
    }


WARNINGS_MAPPINGS: dict[str, Any] = {
    "dynamic_templates": [
        {"strings_as_keywords": {"match_mapping_type": "string", "mapping": _KEYWORD}}
    ],
    "properties": {
        "id": _KEYWORD,
        "rule_id": _KEYWORD,
        "key": _KEYWORD,
        "level": _KEYWORD,
        "level_rank": {"type": "integer"},
        "status": _KEYWORD,
        "summary": {"type": "text"},
        "first_seen": {"type": "date"},
        "last_seen": {"type": "date"},
        "count": {"type": "long"},
    },
}
