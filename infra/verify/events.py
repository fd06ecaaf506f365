"""Drift as `yunwang.cloud` events, graded by the YW-CLOUD-* rules like any producer's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from infra.verify.compare import Drift
from security.events import SEVERITY_HIGH, SEVERITY_LOW, SEVERITY_MEDIUM, Context, Event
from security.levels import WarningLevel
from security.rulebook import Rule, flatten

DATASET = "yunwang.cloud"
GLOBAL = "global"  # Keystone's objects belong to no region
ACTION = {
    "missing": "cloud-object-missing",
    "different": "cloud-object-different",
    "unmanaged": "cloud-object-unmanaged",
}
ECS_TYPE = {"missing": "deletion", "different": "change", "unmanaged": "creation"}
SEVERITY = {"missing": SEVERITY_MEDIUM, "different": SEVERITY_LOW, "unmanaged": SEVERITY_HIGH}
MAX_FIELDS_TEXT = 500  # one changed field can be a long prefix list


def drift_event(drift: Drift, when: datetime) -> Event:
    labels = {
        "region": drift.region or GLOBAL,
        "object_kind": drift.kind,
        "object": drift.key,
    }
    if drift.finding == "different":
        labels["fields"] = drift.summary[:MAX_FIELDS_TEXT]
    if drift.change:
        labels["change"] = drift.change
    if drift.finding == "unmanaged":
        labels["exposure"] = drift.exposure or "none"
    return Event(
        timestamp=when,
        dataset=DATASET,
        action=ACTION[drift.finding],
        message=f"{drift.finding} {drift.kind} {drift.key}"
        + (f": {drift.summary}" if drift.summary else ""),
        category=("configuration",),
        type=(ECS_TYPE[drift.finding],),
        severity=SEVERITY[drift.finding],
        outcome="failure",
        context=Context(tenant=drift.tenant, zone=drift.zone),
        labels=tuple(sorted(labels.items())),
    )


def grade(event: Event, rules: Sequence[Rule]) -> tuple[str, WarningLevel] | None:
    """(rule id, level) of the first rule the event matches."""
    flat = flatten(event.to_ecs())
    for rule in rules:
        if rule.matches(flat):
            return rule.id, rule.level_for(flat)
    return None
