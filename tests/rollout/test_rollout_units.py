"""The rollout's batches and its judgement of a router, without a lab.

The JSON documents are FRR 8.4's own (`show ip ospf neighbor json` and
friends, trimmed to the fields read), as the lab's routers print them.
"""

from __future__ import annotations

import json

import pytest

from estate import load
from playbooks.dual_links import RolloutError, RouterTarget, Uplink, batches, estate_targets
from playbooks.rollout import _documents, _pending
from playbooks.routing_check import BFD, OSPF4, OSPF6, check_router

SMALL = "examples/small.yaml"
HL = RouterTarget(
    "hl",
    "county",
    "py",
    {"router_id": "198.18.16.1"},
    (Uplink("hl/primary", "primary", "up-p", True), Uplink("hl/backup", "backup", "up-b", True)),
)
ROUTE = "show ip route 198.18.8.1 json"


def _ospf4(*ifaces: tuple[str, str]) -> str:
    entries = [{"nbrState": f"{state}/-", "ifaceName": f"{i}:198.18.6.5"} for i, state in ifaces]
    return json.dumps({"neighbors": {"198.18.8.1": entries}})


def _ospf6(*ifaces: tuple[str, str]) -> str:
    return json.dumps({"neighbors": [{"state": s, "interfaceName": i} for i, s in ifaces]})


def _bfd(*peers: tuple[str, str, str]) -> str:
    return json.dumps([{"peer": p, "interface": i, "status": s} for p, i, s in peers])


def _route(*ifaces: str) -> str:
    hops = [{"interfaceName": i, "active": True} for i in ifaces]
    return json.dumps({"198.18.8.0/24": [{"selected": True, "nexthops": hops}]})


HEALTHY = {
    OSPF4: _ospf4(("up-p", "Full"), ("up-b", "Full")),
    OSPF6: _ospf6(("up-p", "Full"), ("up-b", "Full")),
    BFD: _bfd(
        ("198.18.6.0", "up-p", "up"),
        ("fe80::1", "up-p", "up"),
        ("198.18.6.2", "up-b", "up"),
        ("fe80::2", "up-b", "up"),
    ),
    ROUTE: _route("up-p"),
}


def test_a_healthy_dual_link_has_no_findings() -> None:
    assert check_router(HL, HEALTHY) == []


def test_each_unhealthy_observation_names_node_link_and_what_was_seen() -> None:
    seen = {
        **HEALTHY,
        OSPF4: _ospf4(("up-p", "Full"), ("up-b", "Init")),
        BFD: _bfd(("198.18.6.0", "up-p", "up"), ("fe80::1", "up-p", "up"), ("198.18.6.2", "up-b", "down")),
        ROUTE: _route("up-b"),
    }  # fmt: skip
    found = [str(f) for f in check_router(HL, seen)]
    assert found == [
        "hl hl/backup: OSPFv2 neighbour on up-b is Init, expected Full",
        "hl hl/backup: BFD (IPv4) on up-b is down, expected up",
        "hl hl/backup: BFD (IPv6) on up-b is absent, expected up",
        "hl hl/primary: route to the parent (198.18.8.1) leaves by up-b, expected the primary up-p",
    ]


def test_a_router_that_answered_no_json_is_a_finding_not_a_crash() -> None:
    found = check_router(HL, {OSPF4: "% Unknown command", OSPF6: "{}", BFD: "[]"})
    assert [f.seen for f in found] == [f"no JSON from `{OSPF4}`"]


def test_the_city_has_no_uplinks_to_judge() -> None:
    city = RouterTarget("py", "city", None, {"router_id": "198.18.8.1"})
    assert check_router(city, {}) == []


def test_vtysh_documents_are_split_in_command_order() -> None:
    text = '{"neighbors":{}}\n[\n]\n{"a": [1]}'
    assert _documents(text) == ['{"neighbors":{}}', "[\n]", '{"a": [1]}']
    assert _documents('{"ok": 1}\n% Unknown command') == ['{"ok": 1}']


def test_pending_lines_ignore_the_headers_and_vtysh_own_hostname() -> None:
    diff = "Lines To Delete\n===============\nno hostname vm\n\nLines To Add\n============\nhostname py\n"
    assert _pending(diff) == []
    assert _pending(diff + "interface up-p\n ip ospf cost 10\n") == [
        "interface up-p",
        " ip ospf cost 10",
    ]


def test_batches_go_level_by_level_from_the_city_down() -> None:
    targets = estate_targets(load(SMALL))
    plan = batches(targets, size=3)
    levels = [b[0].level for b in plan]
    assert levels == sorted(levels, key=["city", "county", "township"].index)
    assert all(len({t.level for t in b}) == 1 and len(b) <= 3 for b in plan)
    assert sum(len(b) for b in plan) == len(targets)
    county = batches(targets, level="county", size=100)
    assert len(county) == 1 and {t.level for t in county[0]} == {"county"}
    assert [[t.node for t in b] for b in batches(targets, limit=["hl"])] == [["hl"]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"level": "village"}, "--level village: expected one of city, county, township"),
        ({"limit": ["nowhere"]}, "--limit nowhere: no router of that id"),
        ({"size": 0}, "--batch 0: expected 1 to 100 routers per batch"),
    ],
)
def test_bad_level_limit_or_batch_is_one_line(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(RolloutError, match="^" + message.replace("(", r"\(")):
        batches(estate_targets(load(SMALL)), **kwargs)  # type: ignore[arg-type]
