"""Validation at the estate's limits: address plans too small for their
split, values past any real schedule or link, generated names and ids.
Each found by fuzzing `yunwang validate`: every one had been a traceback or
a silently wrong plan."""

from __future__ import annotations

import pytest

from tests.estate.helpers import Edit, assert_one_precise_line, delete_at, node, set_at

CASES: list[tuple[str, Edit, str, str]] = [
    (
        "infinite duration",
        set_at(["monitoring", "poll_interval"], float("inf")),
        "monitoring.poll_interval",
        "at most ten years, found inf",
    ),
    (
        "duration past any schedule",
        set_at(["monitoring", "poll_interval"], 1e308),
        "monitoring.poll_interval",
        "at most ten years, found 1e+308",
    ),
    (
        "bandwidth past any link",
        set_at(["extranet", "owed_bandwidth", "county"], 10**30),
        "extranet.owed_bandwidth.county",
        "at most 1000Tbit/s",
    ),
    (
        "overlapping override",
        set_at(["address_plan", "overrides", "zone:exchange"], {"ipv4": "10.35.192.0/18"}),
        "address_plan.overrides.zone:exchange",
        "zone:exchange and zone:management clash",
    ),
    (
        "override outside parent",
        set_at(["address_plan", "overrides", "county:qf"], {"ipv4": "10.1.0.0/17"}),
        "address_plan.overrides.county:qf",
        "is outside",
    ),
    (
        "unknown override",
        set_at(["address_plan", "overrides", "county:nowhere"], {"ipv4": "10.40.0.0/24"}),
        "address_plan.overrides.county:nowhere",
        "no allocation by that name",
    ),
    (
        "no room for tenants",
        set_at(["address_plan", "split"], {"tenants": 1}),
        "tenants[2].systems[0]",
        "no room for tenant:dsjj/exchange",
    ),
    (
        "ipv6 lan too small",
        set_at(["address_plan", "split"], {"villages": 8}),
        "extranet.nodes[2].villages",
        "LANs need /64 for SLAAC",
    ),
    (
        "override too small for the lan",
        set_at(["address_plan", "overrides", "county:qf"], {"ipv4": "10.44.0.0/30"}),
        "address_plan.overrides.county:qf",
        "county:qf (10.44.0.0/30, ",
    ),
    (
        "ipv6 override too small for the lan",
        set_at(["address_plan", "overrides", "county:qf"], {"ipv6": "2001:db8:3900:ffff::/126"}),
        "address_plan.overrides.county:qf",
        "too small to cut by address_plan.split.townships for the LAN of node 'qf'",
    ),
    (
        "counties split too fine for a county lan",
        set_at(["address_plan", "split"], {"counties": 16}),
        "address_plan.split.townships",
        "too small to cut by address_plan.split.townships for the LAN of node 'hl'",
    ),
    (
        "townships split too fine for the city lan",
        set_at(["address_plan", "split"], {"townships": 16}),
        "address_plan.split.townships",
        "for the LAN of node 'py'",
    ),
    (
        "villages split too fine for a township lan",
        set_at(["address_plan", "split"], {"villages": 16}),
        "address_plan.split.villages",
        "for the LAN of node 'hl-zyl'",
    ),
    (
        "owed bandwidth missing a level in use",
        delete_at(["extranet", "owed_bandwidth", "village"]),
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
def test_limit_reports_one_precise_line(name: str, edit: Edit, path: str, message: str) -> None:
    assert_one_precise_line(edit, path, message)
