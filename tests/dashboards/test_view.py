"""The page's JSON at full city size, from a real pipeline (SQLite) fed real link events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dashboards.web.source import LinkReadings, PipelineSource
from dashboards.web.view import city_view, county_detail
from estate import load
from security.events import Context, Event
from security.pipeline import Pipeline
from security.store import open_store
from tests.dashboards.conftest import REPO

PUYANG = load(REPO / "examples" / "puyang.yaml")


def failover(pair_id: str) -> Event:
    pair = next(p for p in PUYANG.link_pairs() if p.id == pair_id)
    link = pair.primary
    return Event(
        timestamp=datetime.now(UTC), dataset="yunwang.links", action="pair-state-changed",
        message=f"{pair_id} failover",
        context=Context(pair=pair_id, node=pair_id, level=link.level, county=link.county,
                        township=link.township, state="failover"),
    )  # fmt: skip


def test_full_city_folds_villages_into_townships(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YUNWANG_HOME", str(tmp_path))
    county = PUYANG.nodes(level="county")[0]
    township = next(t for t in PUYANG.nodes(level="township") if t.parent == county.id)
    pipeline = Pipeline(open_store(f"sqlite:///{tmp_path / 'events.db'}"))
    pipeline.submit([failover(county.id), failover(township.id)])
    villages = PUYANG.nodes(level="village")
    readings = LinkReadings(
        states={county.id: "failover", township.id: "failover", villages[0].id: "isolated"},
        used_bps={next(p for p in PUYANG.link_pairs() if p.id == county.id).primary.id: 4.2e8},
        # IPv6 shares of flows the sensors saw on two of the county's LANs (mean 0.4)
        ipv6_ratio={county.id: 0.3, township.id: 0.5},
    )
    source = PipelineSource(PUYANG, pipeline, lambda: readings)
    source.changed()
    view = city_view(PUYANG, source.state(), source.trend())

    assert len(view["counties"]) == 6
    assert sum(len(c["townships"]) for c in view["counties"]) == 85
    folded = [t["villages"] for c in view["counties"] for t in c["townships"]]
    assert sum(sum(v.values()) for v in folded) == len(villages) == 2980
    assert sum(v.get("isolated", 0) for v in folded) == 1
    shown = next(c for c in view["counties"] if c["id"] == county.id)
    assert shown["state"] == "failover" and shown["primary_bps"] == 4.2e8
    assert shown["owed_bps"] == PUYANG.owed_bandwidth("county")
    assert shown["warnings"] == 2 and shown["score"] < 100  # both warnings are in this county
    assert shown["ipv6"] == 0.4
    assert all(c["ipv6"] is None for c in view["counties"] if c["id"] != county.id)  # not seen
    assert view["levels"] == {"red": 0, "orange": 1, "yellow": 1, "blue": 0}
    assert len(view["trend"]) == 1 and view["trend"][0][1] == view["city"]["score"]
    assert len(json.dumps(view, ensure_ascii=False)) < 64 * 1024  # a page, not a dump

    detail = county_detail(PUYANG, county.id, source.state())
    listed = [v for t in detail["townships"] for v in t["villages"]]
    assert len(listed) == len(PUYANG.nodes(level="village", county=county.id))
    assert {d["component"] for d in detail["posture"]["deductions"]} >= {"warnings"}
    pipeline.close()
