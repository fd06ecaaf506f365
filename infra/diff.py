"""What a change to the estate does to the cloud: resources added, removed and changed.

Resources are matched by URN (type, parent chain and name), exactly as the
engine matches them, so a rename shows up as a remove plus an add: the
engine would replace it, and the reviewer should see that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infra.planning import Plan, Planned


@dataclass(frozen=True)
class Change:
    resource: Planned
    fields: dict[str, tuple[Any, Any]]  # input -> (old, new)


@dataclass
class PlanDiff:
    added: list[Planned] = field(default_factory=list)
    removed: list[Planned] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff(old: Plan, new: Plan) -> PlanDiff:
    before, after = old.by_urn(), new.by_urn()
    result = PlanDiff()
    for urn, resource in after.items():
        if urn not in before:
            result.added.append(resource)
            continue
        fields = changed_inputs(before[urn].inputs, resource.inputs)
        if fields:
            result.changed.append(Change(resource, fields))
    result.removed = [r for urn, r in before.items() if urn not in after]
    return result


def changed_inputs(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {
        key: (old.get(key), new.get(key))
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    }
