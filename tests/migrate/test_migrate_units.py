"""The migration's plan and record, on targets made here (no lab needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from playbooks.migration import HostTarget, MigrationError, canaries, plan
from playbooks.migration_record import check_rollback_order, forget, load, note_batch, save
from playbooks.migration_report import BatchResult, TargetOutcome


def _host(name: str, stage: str, router: str) -> HostTarget:
    return HostTarget(name, stage, router, "198.18.0.2/24", "2001:db8::2/64", "2001:db8::1")


TARGETS = [
    _host("t1", "township", "hl-zyl"),
    _host("c1", "city", "py"),
    _host("k1", "county", "hl"),
    _host("k2", "county", "qf"),
    _host("k3", "county", "hl"),
    _host("k4", "county", "nl"),
]


def test_stages_go_from_the_city_down_each_a_canary_then_batches() -> None:
    batches = plan(TARGETS, size=2)
    assert [[t.name for t in b] for b in batches] == [["c1"], ["k1"], ["k2", "k3"], ["k4"], ["t1"]]
    assert canaries(batches) == [True, True, False, False, True]


def test_the_canary_is_the_named_host_or_the_first_host_of_the_named_router() -> None:
    assert [t.name for t in plan(TARGETS, stage="county", canary="qf")[0]] == ["k2"]
    assert [t.name for t in plan(TARGETS, stage="county", canary="k4")[0]] == ["k4"]
    # A canary of another stage leaves this stage's first host as its canary.
    assert [t.name for t in plan(TARGETS, stage="county", canary="t1")[0]] == ["k1"]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"stage": "province"}, "--stage province: expected one of city, county"),
        ({"canary": "nowhere"}, "--canary nowhere: no host or router of that id"),
        ({"size": 0}, "--batch 0: expected 1 to 100"),
    ],
)
def test_bad_choices_are_one_line(kwargs: dict[str, object], expected: str) -> None:
    with pytest.raises(MigrationError, match=expected.replace("(", r"\(")):
        plan(TARGETS, **kwargs)  # type: ignore[arg-type]


def test_a_green_batch_is_recorded_and_a_host_already_migrated_keeps_its_record(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ipv6.json"
    hosts = load(path)
    assert hosts == {}
    batch = BatchResult("county", 1, True, {"k1": TargetOutcome("k1", "county", ["address"])})
    note_batch(hosts, batch, {"k1": "hl"}, "alice")
    save(path, hosts)
    again = load(path)
    assert again["k1"]["by"] == "alice" and again["k1"]["added"] == ["address"]
    later = BatchResult("county", 2, False, {"k1": TargetOutcome("k1", "county", [])})
    note_batch(again, later, {"k1": "hl"}, "bob")
    assert again["k1"]["by"] == "alice"
    failed = BatchResult("county", 3, False, {"k2": TargetOutcome("k2", "county")}, ["k2: ping6"])
    note_batch(again, failed, {"k2": "qf"}, "bob")
    assert "k2" not in again


def test_a_record_that_is_not_one_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "ipv6.json"
    path.write_bytes(b"\xff\x00junk")
    with pytest.raises(MigrationError, match="not a migration record"):
        load(path)
    path.write_text('{"hosts": []}')
    with pytest.raises(MigrationError, match="hosts: expected a mapping"):
        load(path)


def test_a_rollback_forgets_the_hosts_it_left_clean_and_keeps_the_others() -> None:
    hosts = {name: {"stage": "county"} for name in ("k1", "k2", "k3")}
    forget(hosts, ["k1", "k2"], ["k2: still answers ping6 at 2001:db8::2", "k20: unrelated"])
    assert sorted(hosts) == ["k2", "k3"]


def test_a_stage_is_rolled_back_only_after_the_stages_below_it() -> None:
    migrated = {
        "hl": {"stage": "county"},
        "hl-zyl": {"stage": "township"},
        "t1": {"stage": "township"},
        "c1": {"stage": "city"},
    }
    with pytest.raises(MigrationError) as caught:
        check_rollback_order(migrated, "county")
    assert str(caught.value) == (
        "--stage county: the township stage is still migrated (hl-zyl, t1); "
        "roll back township first, or every stage at once without --stage"
    )
    with pytest.raises(MigrationError, match="the county/township stage is still migrated"):
        check_rollback_order(migrated, "city")
    check_rollback_order(migrated, "township")  # the lowest migrated stage: in order
    check_rollback_order(migrated, None)  # every stage at once
    check_rollback_order(
        {"c1": {"stage": "city"}}, "county"
    )  # nothing below: nothing to undo first
