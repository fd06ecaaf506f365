"""Turns events into warnings: match rules, fold repeats, escalate, resolve.

The book keeps the active warnings in memory (indexed by rule and dedupe
key) so that matching an event never waits on the store; every change is
also returned to the caller, which stores and delivers it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from security.events import Event
from security.evolve import evolve
from security.levels import WarningLevel, escalate, rank
from security.rulebook import Rule, flatten
from security.warnings import ACTIVE, CONTEXT_FIELDS, Warning, WarningError, warning_id

ChangeKind = Literal["opened", "updated", "escalated", "acknowledged", "resolved"]


@dataclass(frozen=True, slots=True)
class Change:
    """What happened to a warning; `notify` says whether receivers should hear of it."""

    kind: ChangeKind
    warning: Warning
    notify: bool
    previous_level: WarningLevel | None = None


def _context(flat: Mapping[str, Any]) -> dict[str, str]:
    context = {
        name: str(flat[f"yunwang.{name}"]) for name in CONTEXT_FIELDS if flat.get(f"yunwang.{name}")
    }
    for label in ("source_zone", "destination_zone", "mlps_level"):
        if flat.get(f"labels.{label}"):
            context[label] = str(flat[f"labels.{label}"])
    return context


class WarningBook:
    def __init__(self, rules: Sequence[Rule], active: Iterable[Warning] = ()) -> None:
        self.rules = list(rules)
        self._rules_by_id = {rule.id: rule for rule in self.rules}
        # The rules an event can concern, by its dataset and action, in the
        # rules' order, built once: grading an event runs only those (most
        # events concern no rule or one) and flattens no event that concerns none.
        by_dataset: dict[str, list[Rule]] = {}
        for rule in self.rules:
            for dataset in sorted(rule.datasets):
                by_dataset.setdefault(dataset, []).append(rule)
        self._any_action = {
            dataset: [r for r in rules if r.named_actions is None]
            for dataset, rules in by_dataset.items()
        }
        self._by_action: dict[str, dict[str, list[Rule]]] = {
            dataset: {
                action: [r for r in rules if r.named_actions is None or action in r.named_actions]
                for action in set().union(*(r.named_actions or () for r in rules))
            }
            for dataset, rules in by_dataset.items()
        }
        self._active: dict[tuple[str, str], Warning] = {}
        self._by_id: dict[str, Warning] = {}
        for warning in active:
            if warning.active:
                self._index(warning)

    # -- reading ---------------------------------------------------------
    def active(self) -> list[Warning]:
        return sorted(self._by_id.values(), key=lambda w: (rank(w.level), -w.last_seen.timestamp()))

    def find(self, rule_id: str, key: str) -> Warning | None:
        return self._active.get((rule_id, key))

    def get(self, warning_id: str) -> Warning | None:
        return self._by_id.get(warning_id)

    def rule(self, rule_id: str) -> Rule | None:
        return self._rules_by_id.get(rule_id)

    # -- events ----------------------------------------------------------
    def concerned(self, dataset: str, action: str) -> list[Rule]:
        """The rules an event of this dataset and action may match or clear."""
        by_action = self._by_action.get(dataset)
        if by_action is None:
            return []
        found = by_action.get(action) if isinstance(action, str) else None
        return found if found is not None else self._any_action[dataset]

    def observe(self, event: Event) -> list[Change]:
        rules = self.concerned(event.dataset, event.action)
        if not rules:
            return []
        flat = flatten(event.document())  # the same document the store sends
        changes: list[Change] = []
        for rule in rules:
            if rule.matches(flat):
                changes.append(self._raise(rule, flat, event))
            elif rule.clears(flat):
                current = self._active.get((rule.id, rule.key_for(flat)))
                if current is not None:
                    resolved = current.resolve(
                        "auto", event.timestamp, f"cleared by {event.action}"
                    )
                    changes.append(self._set(resolved, "resolved", notify=True))
        return changes

    def _raise(self, rule: Rule, flat: Mapping[str, Any], event: Event) -> Change:
        key = rule.key_for(flat)
        level = rule.level_for(flat)
        now = event.timestamp
        current = self._active.get((rule.id, key))
        if current is None:
            warning = Warning(
                id=warning_id(rule.id, key, now),
                rule_id=rule.id,
                rule_name=rule.name,
                key=key,
                level=level,
                base_level=level,
                status="open",
                summary=rule.render_summary(flat),
                first_seen=now,
                last_seen=now,
                context=_context(flat),
                last_event_id=event.id,
                notified_at=now,
            )
            return self._set(warning, "opened", notify=True)
        worse = rank(level) < rank(current.level)
        quiet_long_enough = (
            current.notified_at is None or now - current.notified_at >= rule.suppress_window
        )
        notify = worse or (quiet_long_enough and current.status == "open")
        updated = evolve(
            current,
            level=level if worse else current.level,
            base_level=level if rank(level) < rank(current.base_level) else current.base_level,
            count=current.count + 1,
            last_seen=max(now, current.last_seen),
            summary=rule.render_summary(flat),
            last_event_id=event.id,
            notified_at=now if notify else current.notified_at,
        )
        if worse:
            return self._set(updated, "escalated", notify=True, previous_level=current.level)
        return self._set(updated, "updated", notify=notify)

    # -- time ------------------------------------------------------------
    def tick(self, now: datetime) -> list[Change]:
        """Escalate warnings left open too long; resolve quiet ones."""
        changes: list[Change] = []
        for warning in list(self._by_id.values()):
            rule = self._rules_by_id.get(warning.rule_id)
            if rule is None:
                continue
            quiet = rule.quiet_window
            if quiet is not None and now - warning.last_seen >= quiet:
                resolved = warning.resolve(
                    "auto", now, f"no repeat for {rule.resolve and rule.resolve.quiet}"
                )
                changes.append(self._set(resolved, "resolved", notify=True))
                continue
            if rule.escalate is None or rule.escalate_after is None or warning.status != "open":
                continue
            due = warning.escalations + 1
            if now - warning.first_seen >= rule.escalate_after * due:
                target = escalate(warning.level, rule.escalate.steps, rule.escalate.ceiling)
                if target != warning.level:
                    escalated = evolve(warning, level=target, escalations=due, notified_at=now)
                    changes.append(
                        self._set(escalated, "escalated", notify=True, previous_level=warning.level)
                    )
        return changes

    # -- people ----------------------------------------------------------
    def acknowledge(self, warning_id: str, who: str, when: datetime, comment: str) -> Change:
        warning = self._require(warning_id)
        return self._set(warning.acknowledge(who, when, comment), "acknowledged", notify=True)

    def resolve(self, warning_id: str, who: str, when: datetime, reason: str) -> Change:
        warning = self._require(warning_id)
        return self._set(warning.resolve(who, when, reason), "resolved", notify=True)

    def adopt(self, warning: Warning) -> None:
        """Take in a warning changed elsewhere (another process acknowledged it)."""
        old = self._by_id.pop(warning.id, None)
        if old is not None:
            self._active.pop((old.rule_id, old.key), None)
        if warning.status in ACTIVE:
            self._index(warning)

    def _require(self, warning_id: str) -> Warning:
        warning = self._by_id.get(warning_id)
        if warning is None:
            raise WarningError(f"no active warning with id {warning_id}")
        return warning

    def _index(self, warning: Warning) -> None:
        self._active[(warning.rule_id, warning.key)] = warning
        self._by_id[warning.id] = warning

    def _set(
        self,
        warning: Warning,
        kind: ChangeKind,
        notify: bool,
        previous_level: WarningLevel | None = None,
    ) -> Change:
        self.adopt(warning)
        return Change(kind, warning, notify, previous_level)
