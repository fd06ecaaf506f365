"""Every rule file loads, validates and passes its own fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from security.engine import WarningBook
from security.rulebook import RULES_DIR, RuleError, fixture_event, flatten, load_rule, load_rules

RULE_FILES = sorted(RULES_DIR.glob("*.yaml"))


def test_there_are_rules_for_every_producer() -> None:
    datasets = set()
    for rule in load_rules():
        d = rule.match.dataset
        datasets.update(d if isinstance(d, list) else [d])
    assert {
        "yunwang.links",
        "yunwang.packets",
        "yunwang.hardening",
        "yunwang.dr",
        "yunwang.snmp",
    } <= datasets


@pytest.fixture(scope="module")
def book() -> WarningBook:
    return WarningBook(load_rules())


@pytest.mark.parametrize("path", RULE_FILES, ids=[p.stem for p in RULE_FILES])
def test_rule_fixtures(path: Path, book: WarningBook) -> None:
    rule = load_rule(path)
    # The book grades an event only with the rules its dataset and action concern.
    for fixture in (*rule.fixtures.fail, *rule.fixtures.clear):
        event = fixture_event(fixture.event)
        assert rule.id in [r.id for r in book.concerned(event.dataset, event.action)], (
            f"{rule.id}: not graded for {fixture.event}"
        )
        other = [r.id for r in book.concerned(event.dataset, "no-such-action")]
        assert (rule.id in other) == (rule.named_actions is None), f"{rule.id}: {other}"
    assert any("GB/T 22239" in ref for ref in rule.references)
    for fixture in rule.fixtures.fail:
        flat = flatten(fixture_event(fixture.event).to_ecs())
        assert rule.matches(flat), f"{rule.id}: fail fixture did not match: {fixture.event}"
        assert rule.level_for(flat) == fixture.level, f"{rule.id}: wrong level for {fixture.event}"
        assert "?" not in rule.key_for(flat).split("|")[0]
    for fixture in rule.fixtures.pass_:
        flat = flatten(fixture_event(fixture.event).to_ecs())
        assert not rule.matches(flat), f"{rule.id}: pass fixture matched: {fixture.event}"
    for fixture in rule.fixtures.clear:
        flat = flatten(fixture_event(fixture.event).to_ecs())
        assert rule.clears(flat) and not rule.matches(flat), (
            f"{rule.id}: does not clear: {fixture.event}"
        )
        first = flatten(fixture_event(rule.fixtures.fail[0].event).to_ecs())
        assert rule.key_for(flat) == rule.key_for(first), (
            f"{rule.id}: clear fixture has another key"
        )


def test_rules_without_quiet_time_can_be_cleared() -> None:
    for rule in load_rules():
        if rule.quiet_window is None:
            assert rule.fixtures.clear, f"{rule.id}: resolves only by hand; give clear fixtures"


def test_context_grades_the_same_fault_differently() -> None:
    rules = {r.id: r for r in load_rules()}
    isolated = rules["YW-LINK-002"]
    flapping = rules["YW-LINK-003"]
    county = flatten(
        fixture_event(
            {
                "event": {"dataset": "yunwang.links", "action": "pair-state-changed"},
                "yunwang": {"node": "c1", "level": "county", "state": "isolated"},
            }
        ).to_ecs()
    )
    village = flatten(
        fixture_event(
            {
                "event": {"dataset": "yunwang.links", "action": "pair-state-changed"},
                "yunwang": {
                    "pair": "v1",
                    "link": "v1/primary",
                    "level": "village",
                    "state": "flapping",
                },
            }
        ).to_ecs()
    )
    assert isolated.level_for(county) == "red"
    assert flapping.level_for(village) == "blue"
    flows = rules["YW-NET-001"]

    def into(zone: str) -> dict[str, object]:
        return flatten(
            fixture_event(
                {
                    "event": {"dataset": "yunwang.packets", "action": "forbidden-cross-zone-flow"},
                    "labels": {"destination_zone": zone},
                }
            ).to_ecs()
        )

    assert flows.level_for(into("management")) == "red"
    assert flows.level_for(into("exchange")) == "yellow"


def _write(tmp_path: Path, doc: dict[str, object], name: str = "YW-TEST-001") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _valid() -> dict[str, object]:
    raw = yaml.safe_load((RULES_DIR / "YW-LINK-001.yaml").read_text())
    raw["id"] = "YW-TEST-001"
    return raw


def test_bad_rules_give_one_line_naming_file_and_field(tmp_path: Path) -> None:
    doc = _valid()
    doc["level"] = {"default": "purple"}
    with pytest.raises(RuleError) as err:
        load_rule(_write(tmp_path, doc))
    message = str(err.value)
    assert "\n" not in message and "YW-TEST-001.yaml" in message and "level.default" in message


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"references": ["RFC 1918"]}, "MLPS clause"),
        ({"suppress": "soon"}, "duration"),
        (
            {"match": {"dataset": "yunwang.links", "where": {"x": {"between": 1}}}},
            "unknown operator",
        ),
        ({"surprise": 1}, "surprise"),
        ({"fixtures": {"pass": [], "fail": []}}, "fixtures.pass"),
    ],
)
def test_schema_rejects(tmp_path: Path, change: dict[str, object], fragment: str) -> None:
    doc = {**_valid(), **change}
    with pytest.raises(RuleError, match=fragment):
        load_rule(_write(tmp_path, doc))


def test_file_name_must_be_the_id(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="named after the rule id"):
        load_rule(_write(tmp_path, _valid(), name="other"))


def test_unreadable_yaml(tmp_path: Path) -> None:
    path = tmp_path / "YW-TEST-001.yaml"
    path.write_text("id: [unclosed\n")
    with pytest.raises(RuleError, match="cannot read rule"):
        load_rule(path)
