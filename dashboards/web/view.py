"""The page's data: the city as one JSON document, villages folded into townships.

At full city size (6 counties, 85 townships, 2,980 villages) the browser
gets one entry per township with its villages counted by link state, so the
document stays small whatever the village count; a county's villages are
listed only when someone drills into it (`county_detail`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from dashboards.web.source import CityState
from estate import Estate, LinkPair
from estate.model import System
from security.levels import LEVELS
from security.posture import Score
from security.warnings import Warning

MAX_WARNINGS = 500  # the page lists the most severe; counts cover the rest


def city_view(estate: Estate, state: CityState, trend: list[tuple[float, float]]) -> dict[str, Any]:
    pairs = {p.id: p for p in estate.link_pairs()}
    counties = []
    by_county = Counter(w.context.get("county", "") for w in state.warnings)
    villages: dict[str | None, Counter[str]] = {}
    for v in estate.nodes(level="village"):
        villages.setdefault(v.parent, Counter())[state.links.states.get(v.id, "unknown")] += 1
    for county in estate.nodes(level="county"):
        townships = [
            _place(t.id, t.name, pairs.get(t.id), state)
            | {"villages": dict(villages.get(t.id, Counter()))}
            for t in estate.nodes(level="township")
            if t.parent == county.id
        ]
        s = state.score("county", county.id)
        counties.append(
            _place(county.id, county.name, pairs.get(county.id), state)
            | {
                "score": round(s.score, 1),
                "warnings": by_county.get(county.id, 0),
                "ipv6": _ipv6(estate, county.id, state),
                "townships": townships,
            }
        )
    city = state.score("city", "city")
    levels = Counter(w.level for w in state.warnings)
    return {
        "city": {
            "name": estate.city.name,
            "score": round(city.score, 1),
            "components": _components(city),
        },
        "trend": trend,
        "levels": {level: levels.get(level, 0) for level in LEVELS},
        "counties": counties,
        "tenants": [
            {"code": t.code, "name": t.name, "score": round(state.score("tenant", t.code).score, 1)}
            for t in estate.tenants
        ],
        "systems": [_system(s, state) for s in estate.systems()],
        "warnings": [warning_row(w) for w in state.warnings[:MAX_WARNINGS]],
        "generated": state.now.isoformat(timespec="seconds"),
    }


def _system(system: System, state: CityState) -> dict[str, Any]:
    """A system's posture and its hosts' compliance (their latest hardening checks)."""
    key = f"{system.tenant}/{system.code}"
    s = state.score("system", key)
    return {
        "key": key,
        "tenant": system.tenant,
        "name": system.name,
        "mlps_level": system.mlps_level,
        "score": round(s.score, 1),
        "compliance": _components(s).get("compliance"),
        "hosts": [
            {
                "name": h.name,
                "compliance": _components(state.score("host", h.name)).get("compliance"),
            }
            for h in system.hosts
        ],
    }


def warning_row(w: Warning) -> dict[str, Any]:
    return {
        "id": w.id,
        "level": w.level,
        "status": w.status,
        "rule": w.rule_id,
        "name": w.rule_name,
        "summary": w.summary,
        "count": w.count,
        "first_seen": w.first_seen.isoformat(timespec="seconds"),
        "last_seen": w.last_seen.isoformat(timespec="seconds"),
        "context": w.context,
        "ack_by": w.ack_by,
        "ack_comment": w.ack_comment,
        "description": w.description(),
    }


def explain(s: Score) -> dict[str, Any]:
    """`yunwang posture --explain` for the page."""
    return {
        "kind": s.kind,
        "name": s.name,
        "score": round(s.score, 1),
        "components": _components(s),
        "deductions": [
            {
                "points": round(d.points, 2),
                "component": d.component,
                "subject": d.subject,
                "reason": d.reason,
            }
            for d in s.deductions[:50]
        ],
    }


def county_detail(estate: Estate, county: str, state: CityState) -> dict[str, Any]:
    """The county's villages one by one, grouped by township, for the drill-down."""
    pairs = {p.id: p for p in estate.link_pairs(county=county)}
    return {
        "posture": explain(state.score("county", county)),
        "townships": [
            {
                "id": t.id,
                "name": t.name,
                "villages": [
                    _place(v.id, v.name, pairs.get(v.id), state)
                    for v in estate.nodes(level="village", county=county)
                    if v.parent == t.id
                ],
            }
            for t in estate.nodes(level="township", county=county)
        ],
        "warnings": [warning_row(w) for w in state.warnings if w.context.get("county") == county],
    }


def _place(node: str, name: str, pair: LinkPair | None, state: CityState) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": node,
        "name": name,
        "state": state.links.states.get(node, "unknown"),
    }
    if pair is not None:
        used = state.links.used_bps
        doc |= {
            "owed_bps": pair.primary.bandwidth_bps,
            "primary_bps": used.get(pair.primary.id),
            "backup_bps": used.get(pair.backup.id),
        }
    return doc


def _ipv6(estate: Estate, county: str, state: CityState) -> float | None:
    """Mean IPv6 share over the county's node LANs the sensors have seen."""
    shares = [
        state.links.ipv6_ratio[n.id]
        for n in estate.nodes(county=county)
        if n.id in state.links.ipv6_ratio
    ]
    return round(sum(shares) / len(shares), 3) if shares else None


def _components(s: Score) -> dict[str, float | None]:
    return {k: (None if v is None else round(v, 1)) for k, v in s.components.items()}
