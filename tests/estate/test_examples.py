"""The two example estates load and have the shape the plan describes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from estate import load


def test_small_example_is_the_documented_fixture(small_path: Path) -> None:
    estate = load(small_path)
    levels = Counter(n.level for n in estate.nodes())
    assert levels == {"city": 1, "county": 2, "township": 4, "village": 4}
    assert [t.code for t in estate.tenants] == ["gaj", "rsj", "dsjj"]
    assert {z.name for z in estate.zones} >= {
        "gov-extranet",
        "internet",
        "exchange",
        "management",
        "dr-replication",
    }


def test_puyang_is_city_sized(puyang_path: Path) -> None:
    estate = load(puyang_path)
    levels = Counter(n.level for n in estate.nodes())
    assert levels["county"] == 6
    assert 80 <= levels["township"] <= 100
    assert 2800 <= levels["village"] <= 3200
    assert len(estate.tenants) == 34
    assert len(estate.systems()) == 142
    names = {n.name for n in estate.nodes(level="county")}
    assert names == {"华龙区", "濮阳县", "清丰县", "南乐县", "范县", "台前县"}


def test_every_county_and_township_has_a_dual_link(puyang_path: Path) -> None:
    estate = load(puyang_path)
    paired = {p.node for p in estate.link_pairs()}
    for node in estate.nodes():
        if node.level in ("county", "township"):
            assert node.id in paired
    for pair in estate.link_pairs():
        assert pair.primary.role == "primary" and pair.backup.role == "backup"
        assert pair.primary.parent == pair.backup.parent


def test_owed_bandwidth_follows_the_plan(puyang_path: Path) -> None:
    estate = load(puyang_path)
    assert {link.bandwidth_bps for link in estate.links(level="county")} == {1_000_000_000}
    assert {link.bandwidth_bps for link in estate.links(level="township")} == {100_000_000}
    assert estate.owed_bandwidth("county") == 10**9
