"""The posture score: one number per city, county, tenant, zone, system and host, explained.

The formula is documented in docs/posture.md; the constants below are its
named parameters. Inputs are folded from events (hardening controls, link
pair states, DR drills) and the active warnings, so the same score can be
computed live in `yunwang watch` or afterwards from any store.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from security.events import Event
from security.levels import WarningLevel
from security.warnings import Warning

if TYPE_CHECKING:
    from estate import Estate

ScopeKind = Literal["city", "county", "tenant", "zone", "system", "host"]
# Every scope below the city, in the order screens list them.
SCOPE_KINDS: tuple[ScopeKind, ...] = ("county", "tenant", "zone", "system", "host")
Component = Literal["compliance", "warnings", "links", "dr"]
DATASETS = ("yunwang.hardening", "yunwang.links", "yunwang.dr")

# Share of the score each component carries when it has data.
COMPONENT_WEIGHT: dict[Component, float] = {
    "compliance": 0.35,
    "warnings": 0.30,
    "links": 0.20,
    "dr": 0.15,
}
# A control on a level-3 system counts twice one on level 2.
MLPS_WEIGHT = {2: 1.0, 3: 2.0}
# Penalty points per open warning, before ageing.
WARNING_PENALTY: dict[WarningLevel, float] = {
    "red": 40.0,
    "orange": 15.0,
    "yellow": 5.0,
    "blue": 1.0,
}
WARNING_SCALE = 40.0  # W = exp(-P / scale): one fresh red warning alone gives W = 0.37
WARNING_HALF_LIFE_S = 24 * 3600.0
WARNING_FLOOR = 0.25  # an old unanswered warning never stops counting
ACKNOWLEDGED_FACTOR = 0.5  # someone is on it
# Link pairs: a county carries everything below it.
LEVEL_WEIGHT = {"city": 8.0, "county": 4.0, "township": 2.0, "village": 1.0}
LINK_HEALTH = {
    "normal": 1.0,
    "up": 1.0,
    "flapping": 0.6,
    "failover": 0.5,
    "degraded": 0.5,
    "isolated": 0.0,
    "down": 0.0,
}
DR_GRACE_RATIO = 3.0  # freshness falls from 1 at age = RPO to 0 at age = (1 + 3) * RPO


@dataclass(frozen=True)
class Deduction:
    component: Component
    subject: str
    points: float
    reason: str


@dataclass
class Score:
    kind: ScopeKind
    name: str
    score: float
    components: dict[Component, float | None]
    deductions: list[Deduction] = field(default_factory=list)


@dataclass
class _Item:
    ctx: dict[str, str]
    weight: float
    value: float  # 0..1 health
    subject: str
    reason: str


def _mlps(value: object) -> int:
    try:
        return 3 if int(str(value)) >= 3 else 2
    except ValueError:
        return 2


def _ctx(event: Event) -> dict[str, str]:
    return {k: str(v) for k, v in event.context.to_ecs().items()}


def system_key(tenant: str | None, system: str) -> str:
    """A system's scope name: `tenant/code` (codes repeat across tenants:
    every bureau has its own `ywbl`), or the bare code when no tenant is known."""
    return f"{tenant}/{system}" if tenant else system


def scope_names(ctx: Mapping[str, str]) -> list[tuple[ScopeKind, str]]:
    """The scopes below the city an item with estate context `ctx` counts in."""
    found: list[tuple[ScopeKind, str]] = [
        (kind, ctx[kind]) for kind in ("county", "tenant", "zone", "host") if ctx.get(kind)
    ]
    if ctx.get("system"):
        found.append(("system", system_key(ctx.get("tenant"), ctx["system"])))
    return found


class PostureInputs:
    """The latest known state of every control, link pair and DR copy."""

    def __init__(self) -> None:
        # (host, control) -> passed, MLPS level, GB/T 22239 clause, estate context
        self.controls: dict[tuple[str, str], tuple[bool, int, str, dict[str, str]]] = {}
        self.pairs: dict[str, tuple[str, str, dict[str, str]]] = {}
        self.dr: dict[tuple[str, str], tuple[datetime | None, float, int, dict[str, str]]] = {}

    def observe_all(self, events: Iterable[Event]) -> PostureInputs:
        for event in events:
            self.observe(event)
        return self

    def observe(self, event: Event) -> None:
        labels = dict(event.labels)
        if event.dataset == "yunwang.hardening" and event.outcome in ("success", "failure"):
            host = event.observer.name if event.observer and event.observer.name else "?"
            control = event.rule_id or event.action
            ctx = _ctx(event)
            ctx.setdefault("host", host)  # events stored before yunwang.host existed
            self.controls[(host, control)] = (
                event.outcome == "success",
                _mlps(labels.get("mlps_level", 2)),
                labels.get("clause", ""),
                ctx,
            )
        elif event.dataset == "yunwang.links" and event.action in (
            "pair-state-changed",
            "link-flapping",
        ):
            ctx = _ctx(event)
            pair = event.context.pair or event.context.node or event.context.link or "?"
            state = (
                "flapping" if event.action == "link-flapping" else (event.context.state or "normal")
            )
            self.pairs[pair] = (state, event.context.level or "village", ctx)
        elif event.dataset == "yunwang.dr" and "rpo_s" in labels:
            key = (event.context.tenant or "?", event.context.system or "?")
            last, _, _, _ = self.dr.get(key, (None, 0.0, 2, {}))
            if event.outcome == "success" and event.action in (
                "drill-finished",
                "replica-checked",
                "backup-finished",
            ):
                last = event.timestamp if last is None else max(last, event.timestamp)
            self.dr[key] = (
                last,
                float(labels["rpo_s"]),
                _mlps(labels.get("mlps_level", 2)),
                _ctx(event),
            )

    def merge_older(self, older: PostureInputs) -> None:
        """Add state from `older` (history) where nothing newer is known."""
        for key, value in older.controls.items():
            self.controls.setdefault(key, value)
        for pair, state in older.pairs.items():
            self.pairs.setdefault(pair, state)
        for system, dr in older.dr.items():
            self.dr.setdefault(system, dr)

    def scopes(
        self, warnings: Iterable[Warning], also: Mapping[ScopeKind, Iterable[str]] | None = None
    ) -> dict[ScopeKind, set[str]]:
        """Every county, tenant, zone, system and host the inputs or warnings
        name, plus `also` (an estate's quiet ones)."""
        found: dict[ScopeKind, set[str]] = {kind: set() for kind in SCOPE_KINDS}
        for kind, names in (also or {}).items():
            found[kind] |= set(names)
        contexts = [c for *_, c in self.controls.values()]
        contexts += [c for _, _, c in self.pairs.values()]
        contexts += [c for *_, c in self.dr.values()]
        contexts += [w.context for w in warnings]
        # A host's 135 controls share one context: look each distinct one up once.
        for items in {tuple(ctx.items()) for ctx in contexts}:
            for kind, name in scope_names(dict(items)):
                found[kind].add(name)
        return found


def _in_scope(ctx: Mapping[str, str], kind: ScopeKind, name: str) -> bool:
    return kind == "city" or (kind, name) in scope_names(ctx)


def _warning_items(warnings: Iterable[Warning], now: datetime) -> list[_Item]:
    items = []
    for w in warnings:
        if not w.active:
            continue
        age = w.age_seconds(now)
        decay = WARNING_FLOOR + (1 - WARNING_FLOOR) * 0.5 ** (age / WARNING_HALF_LIFE_S)
        factor = ACKNOWLEDGED_FACTOR if w.status == "acknowledged" else 1.0
        penalty = WARNING_PENALTY[w.level] * decay * factor
        reason = f"{w.level} {w.rule_id} open {age / 3600:.1f} h" + (
            " (acknowledged)" if factor < 1 else ""
        )
        items.append(_Item(w.context, penalty, 0.0, f"{w.id} {w.summary}", reason))
    return items


@dataclass
class _Parts:
    """The items one scope's score is made of, by component ("warnings" are
    penalties: weight = points, not a ratio)."""

    items: dict[Component, list[_Item]] = field(
        default_factory=lambda: {c: [] for c in COMPONENT_WEIGHT}
    )


def _all_items(inputs: PostureInputs, warnings: Iterable[Warning], now: datetime) -> _Parts:
    """Every item in the city, each with its estate context."""
    parts = _Parts()
    # Only a failing control is ever named in a deduction: the city's tens of
    # thousands of passing ones skip the formatting.
    parts.items["compliance"] = [
        _Item(ctx, MLPS_WEIGHT[mlps], 1.0, "", "")
        if ok
        else _Item(
            ctx,
            MLPS_WEIGHT[mlps],
            0.0,
            f"{host} {control}",
            f"control fails ({clause + ', ' if clause else ''}MLPS level {mlps})",
        )
        for (host, control), (ok, mlps, clause, ctx) in inputs.controls.items()
    ]
    parts.items["links"] = [
        _Item(
            ctx,
            LEVEL_WEIGHT.get(level, 1.0),
            LINK_HEALTH.get(state, 0.5),
            f"{level} {pair}",
            f"link pair {state}",
        )
        for pair, (state, level, ctx) in inputs.pairs.items()
    ]
    for (tenant, system), (last, rpo_s, mlps, ctx) in inputs.dr.items():
        if last is None:
            value, reason = 0.0, "no successful drill or replica check on record"
        else:
            ratio = (now - last).total_seconds() / max(rpo_s, 1.0)
            value = 1.0 if ratio <= 1 else max(0.0, 1 - (ratio - 1) / DR_GRACE_RATIO)
            reason = f"last good copy {ratio:.1f}x RPO old"
        parts.items["dr"].append(_Item(ctx, MLPS_WEIGHT[mlps], value, f"{tenant}/{system}", reason))
    parts.items["warnings"] = _warning_items(warnings, now)
    return parts


def _ratio(items: list[_Item]) -> tuple[float | None, list[tuple[_Item, float]]]:
    """Weighted mean health, and each item's share of what is lost."""
    total = sum(i.weight for i in items)
    if total <= 0:
        return None, []
    value = sum(i.weight * i.value for i in items) / total
    return value, [(i, i.weight * (1 - i.value) / total) for i in items if i.value < 1]


def _combine(kind: ScopeKind, name: str, scope: _Parts) -> Score:
    """One scope's score from its items (docs/posture.md)."""
    parts: dict[Component, tuple[float | None, list[tuple[_Item, float]]]] = {
        c: _ratio(scope.items[c]) for c in ("compliance", "links", "dr")
    }
    penalties = scope.items["warnings"]
    total_penalty = sum(i.weight for i in penalties)
    w_value = math.exp(-total_penalty / WARNING_SCALE)
    lost = 1 - w_value
    parts["warnings"] = (
        w_value,
        [(i, lost * i.weight / total_penalty) for i in penalties] if total_penalty else [],
    )
    available = {c: v for c, (v, _) in parts.items() if v is not None}
    weight_sum = sum(COMPONENT_WEIGHT[c] for c in available)
    final = 100.0 * sum(COMPONENT_WEIGHT[c] * v for c, v in available.items()) / weight_sum
    deductions = [
        Deduction(c, item.subject, 100.0 * COMPONENT_WEIGHT[c] / weight_sum * share, item.reason)
        for c, (_, shares) in parts.items()
        if c in available
        for item, share in shares
    ]
    deductions.sort(key=lambda d: -d.points)
    components: dict[Component, float | None] = {
        c: (None if parts[c][0] is None else round(100.0 * float(parts[c][0] or 0.0), 2))
        for c in COMPONENT_WEIGHT
    }
    return Score(kind, name, round(final, 2), components, deductions)


def estate_scopes(estate: Estate) -> dict[ScopeKind, set[str]]:
    """Every county, tenant, zone, system and host the estate declares:
    `score_all(also=)` scores the quiet ones too (100, nothing known is wrong)."""
    return {
        "county": {n.id for n in estate.nodes(level="county")},
        "tenant": {t.code for t in estate.tenants},
        "zone": {z.name for z in estate.zones},
        "system": {s.ref for s in estate.systems()},
        "host": {h.name for s in estate.systems() for h in s.hosts},
    }


def score(
    inputs: PostureInputs, warnings: Iterable[Warning], kind: ScopeKind, name: str, now: datetime
) -> Score:
    everything = _all_items(inputs, warnings, now)
    scope = _Parts(
        {
            c: [i for i in items if _in_scope(i.ctx, kind, name)]
            for c, items in everything.items.items()
        }
    )
    return _combine(kind, name, scope)


def score_all(
    inputs: PostureInputs,
    warnings: Iterable[Warning],
    now: datetime,
    also: Mapping[ScopeKind, Iterable[str]] | None = None,
    city: str = "city",
) -> list[Score]:
    """The city (named `city`) first, then every scope (`PostureInputs.scopes`) by name.

    Each item is filed under its scopes once, so the cost grows with items
    plus scopes, not their product (a city has hundreds of hosts)."""
    warning_list = list(warnings)
    everything = _all_items(inputs, warning_list, now)
    buckets: dict[tuple[ScopeKind, str], _Parts] = {}
    names_of: dict[tuple[tuple[str, str], ...], list[tuple[ScopeKind, str]]] = {}
    for component, items in everything.items.items():
        for item in items:
            ctx = tuple(item.ctx.items())  # a host's controls share one context
            filed = names_of.get(ctx)
            if filed is None:
                filed = names_of[ctx] = scope_names(item.ctx)
            for key in filed:
                bucket = buckets.get(key)
                if bucket is None:
                    bucket = buckets[key] = _Parts()
                bucket.items[component].append(item)
    scores = [_combine("city", city, everything)]
    for kind, names in inputs.scopes(warning_list, also).items():
        scores += [
            _combine(kind, name, buckets.get((kind, name), _Parts())) for name in sorted(names)
        ]
    return scores
