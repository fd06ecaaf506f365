"""Every validation rule, each with a failing fixture and the one line it must print."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.estate.helpers import dump, load_ok, mutated, node, problems_of, small_data

Edit = Callable[[dict[str, Any]], object]

LINE = re.compile(r"^t\.yaml:\d+: \S+: .+$")


def _set(path: list[Any], value: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def _del(path: list[Any]) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return edit


def _add_node(spec: dict[str, Any]) -> Edit:
    return lambda data: data["extranet"]["nodes"].append(spec)


def _drop_backup(node_id: str) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        n = node(data, node_id)
        n["uplinks"] = [u for u in n["uplinks"] if u["role"] != "backup"]

    return edit


def _drop_primary(node_id: str) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        n = node(data, node_id)
        n["uplinks"] = [u for u in n["uplinks"] if u["role"] != "primary"]

    return edit


CASES: list[tuple[str, Edit, str, str]] = [
    (
        "unknown top key",
        _set(["colour"], "red"),
        "colour",
        "unknown key 'colour' (expected one of: address_plan, city",
    ),
    (
        "unknown nested key",
        _set(["tenants", 0, "systems", 0, "mlps"], 3),
        "tenants[0].systems[0].mlps",
        "expected one of: code, dr, dr_class, hosts",
    ),
    (
        "wrong type",
        _set(["tenants", 0, "systems", 0, "mlps_level"], 4),
        "tenants[0].systems[0].mlps_level",
        "found 4",
    ),
    (
        "wrong type text for int",
        _set(["monitoring", "retries"], "many"),
        "monitoring.retries",
        "found 'many'",
    ),
    ("missing section", _del(["city"]), "city", "required, missing"),
    (
        "bad bandwidth",
        _set(["extranet", "owed_bandwidth", "county"], "fast"),
        "extranet.owed_bandwidth.county",
        "expected a bandwidth like 100Mbit/s",
    ),
    (
        "bad duration",
        _set(["monitoring", "poll_interval"], "soon"),
        "monitoring.poll_interval",
        "expected a duration like 30s",
    ),
    (
        "infinite duration",
        _set(["monitoring", "poll_interval"], float("inf")),
        "monitoring.poll_interval",
        "at most ten years, found inf",
    ),
    (
        "duration past any schedule",
        _set(["monitoring", "poll_interval"], 1e308),
        "monitoring.poll_interval",
        "at most ten years, found 1e+308",
    ),
    (
        "bandwidth past any link",
        _set(["extranet", "owed_bandwidth", "county"], 10**30),
        "extranet.owed_bandwidth.county",
        "at most 1000Tbit/s",
    ),
    (
        "bad prefix",
        _set(["address_plan", "ipv4"], "10.0.0.0/33"),
        "address_plan.ipv4",
        "found '10.0.0.0/33'",
    ),
    (
        "small ipv6",
        _set(["address_plan", "ipv6"], "2001:db8:1:1::/64"),
        "address_plan",
        "expected a /48 or larger",
    ),
    (
        "bad code",
        _set(["tenants", 0, "code"], "市公安局"),
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
        _drop_backup("hl"),
        "extranet.nodes[1].uplinks",
        "a county needs exactly one primary and one backup link",
    ),
    (
        "township without primary",
        _drop_primary("qf-mzq"),
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
        _add_node(
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
        _add_node(
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
        _set(["tenants", 1, "systems", 0, "zone"], "dmz"),
        "tenants[1].systems[0].zone",
        "no zone 'dmz'",
    ),
    (
        "system in internet zone",
        _set(["tenants", 1, "systems", 0, "zone"], "internet"),
        "tenants[1].systems[0].zone",
        "not in the internet zone",
    ),
    (
        "unknown dr class",
        _set(["tenants", 1, "systems", 0, "dr_class"], "platinum"),
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
        _set(["isolation", 0, "to"], "dmz"),
        "isolation[0].to",
        "no zone 'dmz'",
    ),
    (
        "isolation bad service",
        _set(["isolation", 0, "allow"], ["tcp/443", "http"]),
        "isolation[0].allow[1]",
        "expected a service like tcp/443",
    ),
    (
        "isolation port on icmp",
        _set(["isolation", 0, "allow"], ["icmp/8"]),
        "isolation[0].allow[0]",
        "only tcp and udp take ports",
    ),
    (
        "inline secret",
        _set(["monitoring", "credentials", "extranet-v3", "priv_key"], "hunter2"),
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
        _del(["monitoring", "credentials", "extranet-v3", "priv_key"]),
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
    (
        "overlapping override",
        _set(["address_plan", "overrides", "zone:exchange"], {"ipv4": "10.35.192.0/18"}),
        "address_plan.overrides.zone:exchange",
        "zone:exchange and zone:management clash",
    ),
    (
        "override outside parent",
        _set(["address_plan", "overrides", "county:qf"], {"ipv4": "10.1.0.0/17"}),
        "address_plan.overrides.county:qf",
        "is outside",
    ),
    (
        "unknown override",
        _set(["address_plan", "overrides", "county:nowhere"], {"ipv4": "10.40.0.0/24"}),
        "address_plan.overrides.county:nowhere",
        "no allocation by that name",
    ),
    (
        "no room for tenants",
        _set(["address_plan", "split"], {"tenants": 1}),
        "tenants[2].systems[0]",
        "no room for tenant:dsjj/exchange",
    ),
    (
        "ipv6 lan too small",
        _set(["address_plan", "split"], {"villages": 8}),
        "extranet.nodes[2].villages",
        "LANs need /64 for SLAAC",
    ),
    (
        "override too small for the lan",
        _set(["address_plan", "overrides", "county:qf"], {"ipv4": "10.44.0.0/30"}),
        "address_plan.overrides.county:qf",
        "county:qf (10.44.0.0/30, ",
    ),
    (
        "ipv6 override too small for the lan",
        _set(["address_plan", "overrides", "county:qf"], {"ipv6": "2001:db8:3900:ffff::/126"}),
        "address_plan.overrides.county:qf",
        "too small to cut by address_plan.split.townships for the LAN of node 'qf'",
    ),
    (
        "counties split too fine for a county lan",
        _set(["address_plan", "split"], {"counties": 16}),
        "address_plan.split.townships",
        "too small to cut by address_plan.split.townships for the LAN of node 'hl'",
    ),
    (
        "townships split too fine for the city lan",
        _set(["address_plan", "split"], {"townships": 16}),
        "address_plan.split.townships",
        "for the LAN of node 'py'",
    ),
    (
        "villages split too fine for a township lan",
        _set(["address_plan", "split"], {"villages": 16}),
        "address_plan.split.villages",
        "for the LAN of node 'hl-zyl'",
    ),
    (
        "owed bandwidth missing a level in use",
        _del(["extranet", "owed_bandwidth", "village"]),
        "extranet.owed_bandwidth",
        "missing 'village' (found only: county, township)",
    ),
    (
        "empty village name",
        lambda d: node(d, "hl-zyl")["villages"].update(names=["", "孟轲村"]),
        "extranet.nodes[2].villages.names[0]",
        "at least 1 character, found ''",
    ),
    (
        "empty village interface",
        lambda d: node(d, "hl-zyl")["villages"].update(interface=""),
        "extranet.nodes[2].villages.interface",
        "at least 1 character, found ''",
    ),
    (
        "generated village id too long",
        lambda d: node(d, "hl-zyl").update(id="hl-" + "z" * 34),
        "extranet.nodes[2].villages",
        "would be 45 characters, over the limit of 40; expected a township id of at most 32",
    ),
]


@pytest.mark.parametrize(("name", "edit", "path", "message"), CASES, ids=[c[0] for c in CASES])
def test_rule_reports_one_precise_line(name: str, edit: Edit, path: str, message: str) -> None:
    problems = problems_of(mutated(edit))
    assert all(LINE.match(p) for p in problems), problems
    assert any(f": {path}:" in p and message in p for p in problems), problems


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
