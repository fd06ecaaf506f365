"""The posture score: one number per city, county, tenant and zone, explained.

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

ScopeKind = Literal["city", "county", "tenant", "zone"]
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


class PostureInputs:
    """The latest known state of every control, link pair and DR copy."""

    def __init__(self) -> None:
        self.controls: dict[tuple[str, str], tuple[bool, int, dict[str, str]]] = {}
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
            self.controls[(host, control)] = (
                event.outcome == "success",
                _mlps(labels.get("mlps_level", 2)),
                _ctx(event),
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
        """Every county, tenant and zone the inputs or warnings name, plus
        `also` (an estate's quiet ones)."""
        found: dict[ScopeKind, set[str]] = {"county": set(), "tenant": set(), "zone": set()}
        for kind, names in (also or {}).items():
            found[kind] |= set(names)
        contexts = [c for _, _, c in self.controls.values()]
        contexts += [c for _, _, c in self.pairs.values()]
        contexts += [c for *_, c in self.dr.values()]
        contexts += [w.context for w in warnings]
        for ctx in contexts:
            for kind in ("county", "tenant", "zone"):
                if ctx.get(kind):
                    found[kind].add(ctx[kind])
        return found


def _in_scope(ctx: Mapping[str, str], kind: ScopeKind, name: str) -> bool:
    return kind == "city" or ctx.get(kind) == name


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


def _ratio(items: list[_Item]) -> tuple[float | None, list[tuple[_Item, float]]]:
    """Weighted mean health, and each item's share of what is lost."""
    total = sum(i.weight for i in items)
    if total <= 0:
        return None, []
    value = sum(i.weight * i.value for i in items) / total
    return value, [(i, i.weight * (1 - i.value) / total) for i in items if i.value < 1]


def score(
    inputs: PostureInputs, warnings: Iterable[Warning], kind: ScopeKind, name: str, now: datetime
) -> Score:
    warning_list = [w for w in warnings if _in_scope(w.context, kind, name)]
    controls = [
        _Item(
            ctx,
            MLPS_WEIGHT[mlps],
            1.0 if ok else 0.0,
            f"{host} {control}",
            f"control fails (MLPS level {mlps})",
        )
        for (host, control), (ok, mlps, ctx) in inputs.controls.items()
        if _in_scope(ctx, kind, name)
    ]
    links = [
        _Item(
            ctx,
            LEVEL_WEIGHT.get(level, 1.0),
            LINK_HEALTH.get(state, 0.5),
            f"{level} {pair}",
            f"link pair {state}",
        )
        for pair, (state, level, ctx) in inputs.pairs.items()
        if _in_scope(ctx, kind, name)
    ]
    drs = []
    for (tenant, system), (last, rpo_s, mlps, ctx) in inputs.dr.items():
        if not _in_scope(ctx, kind, name):
            continue
        if last is None:
            value, reason = 0.0, "no successful drill or replica check on record"
        else:
            ratio = (now - last).total_seconds() / max(rpo_s, 1.0)
            value = 1.0 if ratio <= 1 else max(0.0, 1 - (ratio - 1) / DR_GRACE_RATIO)
            reason = f"last good copy {ratio:.1f}x RPO old"
        drs.append(_Item(ctx, MLPS_WEIGHT[mlps], value, f"{tenant}/{system}", reason))

    parts: dict[Component, tuple[float | None, list[tuple[_Item, float]]]] = {
        "compliance": _ratio(controls),
        "links": _ratio(links),
        "dr": _ratio(drs),
    }
    penalties = _warning_items(warning_list, now)
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
    """Every county, tenant and zone the estate declares: `score_all(also=)`
    scores the quiet ones too (100, nothing known is wrong)."""
    return {
        "county": {n.id for n in estate.nodes(level="county")},
        "tenant": {t.code for t in estate.tenants},
        "zone": {z.name for z in estate.zones},
    }


def score_all(
    inputs: PostureInputs,
    warnings: Iterable[Warning],
    now: datetime,
    also: Mapping[ScopeKind, Iterable[str]] | None = None,
    city: str = "city",
) -> list[Score]:
    """The city (named `city`) first, then every scope (`PostureInputs.scopes`) by name."""
    warning_list = list(warnings)
    scores = [score(inputs, warning_list, "city", "city", now)]
    scores[0].name = city
    for kind, names in inputs.scopes(warning_list, also).items():
        scores += [score(inputs, warning_list, kind, name, now) for name in sorted(names)]
    return scores
