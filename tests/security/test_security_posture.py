"""The posture score follows docs/posture.md and explains itself."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from sec_helpers import T0, make_event

from security.engine import WarningBook
from security.events import Endpoint, Event
from security.pipeline import Pipeline
from security.posture import (
    COMPONENT_WEIGHT,
    WARNING_FLOOR,
    WARNING_HALF_LIFE_S,
    WARNING_PENALTY,
    WARNING_SCALE,
    PostureInputs,
    score,
    score_all,
)
from security.rulebook import load_rules
from security.store.sqlite import SqliteStore

NOW = T0 + timedelta(hours=1)


def control(
    host: str, name: str, ok: bool, mlps: int, tenant: str = "t1", zone: str = "cloud"
) -> Event:
    return replace(
        make_event(
            0,
            dataset="yunwang.hardening",
            action="control-checked",
            tenant=tenant,
            zone=zone,
            system=f"{tenant}-sys",
            label_mlps_level=str(mlps),
        ),
        outcome="success" if ok else "failure",
        rule_id=name,
        observer=Endpoint(name=host),
    )


def pair(name: str, level: str, state: str, county: str) -> Event:
    return make_event(0, pair=name, node=name, level=level, state=state, county=county)


def drill(system: str, ok: bool, age_s: float, rpo_s: int, tenant: str = "t1") -> Event:
    return replace(
        make_event(
            -age_s + 3600,
            dataset="yunwang.dr",
            action="drill-finished",
            tenant=tenant,
            system=system,
            label_rpo_s=str(rpo_s),
            label_mlps_level="3",
        ),
        outcome="success" if ok else "failure",
    )


def test_a_clean_estate_scores_100() -> None:
    inputs = PostureInputs().observe_all(
        [control("h1", "c1", True, 3), pair("c1", "county", "normal", "c1")]
    )
    s = score(inputs, [], "city", "city", NOW)
    assert s.score == 100.0 and s.deductions == []
    assert s.components["dr"] is None  # no data: not counted, weights renormalised


def test_compliance_is_weighted_by_mlps_level() -> None:
    inputs = PostureInputs().observe_all(
        [control("h1", "a", False, 3), control("h2", "a", True, 2)]
    )
    s = score(inputs, [], "tenant", "t1", NOW)
    # level-3 control weighs 2, level-2 weighs 1: 1 of 3 weight passes
    assert s.components["compliance"] == pytest.approx(100 / 3, abs=0.01)
    weights = COMPONENT_WEIGHT["compliance"] + COMPONENT_WEIGHT["warnings"]
    expected = 100 * (COMPONENT_WEIGHT["compliance"] / 3 + COMPONENT_WEIGHT["warnings"]) / weights
    assert s.score == pytest.approx(expected, abs=0.01)
    assert s.deductions[0].subject == "h1 a" and "MLPS level 3" in s.deductions[0].reason


def test_warnings_decay_with_age_but_never_vanish() -> None:
    book = WarningBook(load_rules())
    w = book.observe(pair("c1", "county", "isolated", "c1"))[0].warning
    fresh = score(PostureInputs(), [w], "city", "city", T0)
    assert fresh.components["warnings"] == pytest.approx(
        100 * math.exp(-WARNING_PENALTY["red"] / WARNING_SCALE), abs=0.01
    )
    day = score(PostureInputs(), [w], "city", "city", T0 + timedelta(seconds=WARNING_HALF_LIFE_S))
    decay = WARNING_FLOOR + (1 - WARNING_FLOOR) * 0.5
    assert day.components["warnings"] == pytest.approx(
        100 * math.exp(-40 * decay / WARNING_SCALE), abs=0.01
    )
    old = score(PostureInputs(), [w], "city", "city", T0 + timedelta(days=365))
    assert old.score < 100 and old.score > fresh.score
    acked = score(PostureInputs(), [w.acknowledge("a", T0, "x")], "city", "city", T0)
    assert acked.score > fresh.score


def test_a_county_in_trouble_pulls_down_its_county_and_the_city_only() -> None:
    events = [
        pair("c1", "county", "isolated", "c1"),
        pair("c2", "county", "normal", "c2"),
        pair("t21", "township", "normal", "c2"),
    ]
    inputs = PostureInputs().observe_all(events)
    book = WarningBook(load_rules())
    warnings = [c.warning for e in events for c in book.observe(e)]
    scores = {(s.kind, s.name): s for s in score_all(inputs, warnings, NOW)}
    assert scores[("county", "c2")].score == 100.0
    assert scores[("county", "c1")].score < scores[("city", "city")].score < 100.0
    explained = scores[("county", "c1")]
    assert {d.component for d in explained.deductions} == {"links", "warnings"}
    assert 100.0 - explained.score == pytest.approx(
        sum(d.points for d in explained.deductions), abs=0.05
    )


def test_dr_freshness_against_rpo() -> None:
    inputs = PostureInputs().observe_all(
        [drill("fresh", True, 600, 3600), drill("stale", True, 3 * 3600, 3600)]
    )
    s = score(inputs, [], "tenant", "t1", NOW)
    # fresh: 1.0; stale: age 3x RPO -> 1 - (3 - 1) / 3 = 1/3
    assert s.components["dr"] == pytest.approx(100 * (1 + 1 / 3) / 2, abs=0.5)
    never = PostureInputs().observe_all([drill("new", False, 0, 3600)])
    assert score(never, [], "tenant", "t1", NOW).components["dr"] == 0.0


def test_metrics_expose_posture_and_warnings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pipeline = Pipeline(SqliteStore(tmp_path / "e.db"), clock=lambda: NOW)
    pipeline.submit([pair("c1", "county", "isolated", "c1"), control("h1", "a", False, 3)])
    registry = CollectorRegistry()
    registry.register(pipeline.collector())
    text = generate_latest(registry).decode()
    assert 'yunwang_warnings{status="open",warning_level="red"} 1.0' in text
    assert 'yunwang_posture_score{name="c1",scope="county"}' in text
    assert 'yunwang_posture_component_score{component="links",name="c1",scope="county"} 0.0' in text
    assert 'yunwang_security_events_total{dataset="yunwang.links"} 1.0' in text
    assert "yunwang_warning_oldest_age_seconds" in text
    pipeline.close()


LEVEL_NAMES = ["city", "county", "township", "village"]
STATES = ["normal", "failover", "isolated", "flapping", "down"]


@st.composite
def estates(draw: st.DrawFn) -> tuple[PostureInputs, list]:  # type: ignore[type-arg]
    events = []
    for i in range(draw(st.integers(0, 6))):
        events.append(
            control(
                f"h{i}",
                draw(st.sampled_from(["a", "b"])),
                draw(st.booleans()),
                draw(st.sampled_from([2, 3])),
            )
        )
    for i in range(draw(st.integers(0, 6))):
        events.append(
            pair(
                f"p{i}",
                draw(st.sampled_from(LEVEL_NAMES)),
                draw(st.sampled_from(STATES)),
                f"c{i % 2}",
            )
        )
    for i in range(draw(st.integers(0, 3))):
        events.append(
            drill(
                f"s{i}",
                draw(st.booleans()),
                draw(st.floats(0, 50000)),
                draw(st.sampled_from([300, 3600])),
            )
        )
    book = WarningBook(load_rules())
    warnings = [c.warning for e in events for c in book.observe(e)]
    return PostureInputs().observe_all(events), [w for w in warnings if w.active]


@settings(max_examples=60, deadline=None)
@given(estates(), st.floats(0, 30 * 86400))
def test_scores_are_bounded_and_fully_explained(
    case: tuple[PostureInputs, list], age: float
) -> None:  # type: ignore[type-arg]
    inputs, warnings = case
    for s in score_all(inputs, warnings, NOW + timedelta(seconds=age)):
        assert 0.0 <= s.score <= 100.0
        assert 100.0 - s.score == pytest.approx(sum(d.points for d in s.deductions), abs=0.05)
        assert all(d.points >= 0 for d in s.deductions)


@settings(max_examples=40, deadline=None)
@given(estates())
def test_another_warning_never_raises_a_score(case: tuple[PostureInputs, list]) -> None:  # type: ignore[type-arg]
    inputs, warnings = case
    extra = WarningBook(load_rules()).observe(pair("zz", "county", "isolated", "c0"))[0].warning
    before = score(inputs, warnings, "city", "city", NOW).score
    after = score(inputs, [*warnings, extra], "city", "city", NOW).score
    assert after <= before
