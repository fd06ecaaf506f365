"""Every validation rule, each with a failing fixture and the one line it must print."""

from __future__ import annotations

from typing import Any

import pytest

from tests.estate.helpers import (
    Edit,
    add_node,
    assert_one_precise_line,
    delete_at,
    drop_backup,
    drop_primary,
    dump,
    load_ok,
    mutated,
    node,
    problems_of,
    set_at,
    small_data,
)

CASES: list[tuple[str, Edit, str, str]] = [
    (
        "unknown top key",
        set_at(["colour"], "red"),
        "colour",
        "unknown key 'colour' (expected one of: address_plan, city",
    ),
    (
        "unknown nested key",
        set_at(["tenants", 0, "systems", 0, "mlps"], 3),
        "tenants[0].systems[0].mlps",
        "expected one of: code, dr, dr_class, hosts",
    ),
    (
        "wrong type",
        set_at(["tenants", 0, "systems", 0, "mlps_level"], 4),
        "tenants[0].systems[0].mlps_level",
        "found 4",
    ),
    (
        "wrong type text for int",
        set_at(["monitoring", "retries"], "many"),
        "monitoring.retries",
        "found 'many'",
    ),
    ("missing section", delete_at(["city"]), "city", "required, missing"),
    (
        "bad bandwidth",
        set_at(["extranet", "owed_bandwidth", "county"], "fast"),
        "extranet.owed_bandwidth.county",
        "expected a bandwidth like 100Mbit/s",
    ),
    (
        "bad duration",
        set_at(["monitoring", "poll_interval"], "soon"),
        "monitoring.poll_interval",
        "expected a duration like 30s",
    ),
    (
        "bad prefix",
        set_at(["address_plan", "ipv4"], "10.0.0.0/33"),
        "address_plan.ipv4",
        "found '10.0.0.0/33'",
    ),
    (
        "small ipv6",
        set_at(["address_plan", "ipv6"], "2001:db8:1:1::/64"),
        "address_plan",
        "expected a /48 or larger",
    ),
    (
        "bad code",
        set_at(["tenants", 0, "code"], "市公安局"),
        "tenants[0].code",
        "should match pattern",
    ),
    (
        "dangling parent",
        lambda d: node(d, "hl-zyl").update(parent="nowhere"),
        "extranet.nodes[2].parent",
        "no node with id 'nowhere'",
    ),
    (
        "wrong parent level",
        lambda d: node(d, "hl-zyl").update(parent="py"),
        "extranet.nodes[2].parent",
        "a township's parent must be a county, found 'py' (city)",
    ),
    (
        "county without backup",
        drop_backup("hl"),
        "extranet.nodes[1].uplinks",
        "a county needs exactly one primary and one backup link",
    ),
    (
        "township without primary",
        drop_primary("qf-mzq"),
        "extranet.nodes[7].uplinks",
        "found backup",
    ),
    (
        "village with two primaries",
        lambda d: node(d, "hl-ycz-v001")["uplinks"].append(
            {"role": "primary", "interface": "Gi0/2", "parent_interface": "Gi9/9"}
        ),
        "extranet.nodes[4].uplinks",
        "a village needs one primary link",
    ),
    (
        "node without devices",
        lambda d: node(d, "qf-mzq").update(devices=[]),
        "extranet.nodes[7].devices",
        "expected at least one device",
    ),
    (
        "unknown uplink device",
        lambda d: node(d, "hl")["uplinks"][1].update(parent_device="py-core-9"),
        "extranet.nodes[1].uplinks[1].parent_device",
        "no device 'py-core-9' on parent node 'py'",
    ),
    (
        "duplicate node id",
        add_node(
            {
                "id": "qf",
                "name": "重复",
                "level": "county",
                "parent": "py",
                "devices": [{"name": "dup-1"}],
                "uplinks": [],
            }
        ),
        "extranet.nodes[8].id",
        "duplicate node id 'qf'",
    ),
    (
        "two cities",
        add_node(
            {"id": "py2", "name": "另一个市", "level": "city", "devices": [{"name": "py2-core"}]}
        ),
        "extranet.nodes",
        "expected exactly one city node, found 2",
    ),
    (
        "duplicate device",
        lambda d: node(d, "qf-mzq")["devices"].append({"name": "hl-agg-1"}),
        "extranet.nodes[7].devices[1].name",
        "duplicate device name 'hl-agg-1'",
    ),
    (
        "interface used twice",
        lambda d: node(d, "qf-mzq")["uplinks"][0].update(parent_interface="GigabitEthernet1/0/1"),
        "extranet.nodes[7].uplinks[0].parent_interface",
        "qf-agg-1 GigabitEthernet1/0/1 already carries link qf-cgz/primary",
    ),
    (
        "villages on a county",
        lambda d: node(d, "hl").update(villages={"count": 2}),
        "extranet.nodes[1].villages",
        "only townships declare villages",
    ),
    (
        "system in unknown zone",
        set_at(["tenants", 1, "systems", 0, "zone"], "dmz"),
        "tenants[1].systems[0].zone",
        "no zone 'dmz'",
    ),
    (
        "system in internet zone",
        set_at(["tenants", 1, "systems", 0, "zone"], "internet"),
        "tenants[1].systems[0].zone",
        "not in the internet zone",
    ),
    (
        "unknown dr class",
        set_at(["tenants", 1, "systems", 0, "dr_class"], "platinum"),
        "tenants[1].systems[0].dr_class",
        "no DR class 'platinum'",
    ),
    (
        "duplicate tenant",
        lambda d: d["tenants"].append({"code": "gaj", "name": "又一个公安局"}),
        "tenants[3].code",
        "duplicate tenant code 'gaj'",
    ),
    (
        "duplicate system",
        lambda d: d["tenants"][2]["systems"].append(
            {"code": "soc", "name": "x", "zone": "management", "mlps_level": 2}
        ),
        "tenants[2].systems[3].code",
        "duplicate system code 'soc'",
    ),
    (
        "duplicate host",
        lambda d: d["tenants"][1]["systems"][0]["hosts"].append({"name": "soc-1"}),
        "tenants[2].systems[1].hosts[0].name",
        "duplicate host name 'soc-1' (also in rsj/sbjb)",
    ),
    (
        "duplicate zone",
        lambda d: d["zones"].append({"name": "exchange"}),
        "zones[5].name",
        "duplicate zone 'exchange'",
    ),
    (
        "two internet zones",
        lambda d: d["zones"].append({"name": "internet2", "kind": "internet"}),
        "zones",
        "at most one zone of kind internet",
    ),
    (
        "isolation unknown zone",
        set_at(["isolation", 0, "to"], "dmz"),
        "isolation[0].to",
        "no zone 'dmz'",
    ),
    (
        "isolation bad service",
        set_at(["isolation", 0, "allow"], ["tcp/443", "http"]),
        "isolation[0].allow[1]",
        "expected a service like tcp/443",
    ),
    (
        "isolation port on icmp",
        set_at(["isolation", 0, "allow"], ["icmp/8"]),
        "isolation[0].allow[0]",
        "only tcp and udp take ports",
    ),
    (
        "inline secret",
        set_at(["monitoring", "credentials", "extranet-v3", "priv_key"], "hunter2"),
        "monitoring.credentials.extranet-v3.priv_key",
        "secrets must be references",
    ),
    (
        "inline community",
        lambda d: d["monitoring"]["credentials"].update(old={"version": 2, "community": "public"}),
        "monitoring.credentials.old.community",
        "secrets must be references",
    ),
    (
        "authNoPriv",
        delete_at(["monitoring", "credentials", "extranet-v3", "priv_key"]),
        "monitoring.credentials.extranet-v3",
        "authPriv only: missing priv_key",
    ),
    (
        "v2c not allowed",
        lambda d: d["monitoring"]["credentials"].update(
            old={"version": 2, "community": {"env": "C"}}
        ),
        "monitoring.credentials.old",
        "SNMP v2c is disabled",
    ),
    (
        "unknown credential",
        lambda d: node(d, "hl")["devices"][0].update(credential="nope"),
        "extranet.nodes[1].devices[0].credential",
        "no credential 'nope'",
    ),
]


@pytest.mark.parametrize(("name", "edit", "path", "message"), CASES, ids=[c[0] for c in CASES])
def test_rule_reports_one_precise_line(name: str, edit: Edit, path: str, message: str) -> None:
    assert_one_precise_line(edit, path, message)


def test_the_unmodified_fixture_is_valid() -> None:
    assert load_ok(dump(small_data())).city.code == "puyang"


def test_lines_point_at_the_offending_yaml() -> None:
    text = dump(small_data()).replace("mlps_level: 2", "mlps_level: 7", 1)
    expected = next(i for i, line in enumerate(text.splitlines(), 1) if "mlps_level: 7" in line)
    (problem,) = problems_of(text)
    assert problem.startswith(f"t.yaml:{expected}: tenants[0].systems[1].mlps_level:")


def test_every_problem_is_reported_not_just_the_first() -> None:
    def edit(data: dict[str, Any]) -> None:
        node(data, "hl-zyl")["parent"] = "nowhere"
        data["tenants"][0]["systems"][0]["zone"] = "dmz"
        data["isolation"][0]["allow"] = ["gopher"]

    problems = problems_of(mutated(edit))
    assert len(problems) == 3, problems


def test_duplicate_yaml_keys_are_rejected() -> None:
    text = dump(small_data()).replace("city:\n", "city:\n  name: 重复\n", 1)
    problems = problems_of(text)
    assert any("duplicate key 'name' (first on line 2)" in p for p in problems), problems


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("city: [unclosed", "not valid YAML"),
        ("", "expected a mapping of estate sections, found an empty file"),
        ("- a\n- b\n", "expected a mapping of estate sections, found a list"),
        ("base: &b {x: 1}\nother:\n  <<: *b\n", "merge keys"),
    ],
)
def test_broken_files_get_one_line(text: str, message: str) -> None:
    problems = problems_of(text)
    assert any(message in p for p in problems), problems
