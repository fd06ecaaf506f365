"""The rollout's batches and its judgement of a router, without a lab.

The JSON documents are FRR 8.4's own (`show ip ospf neighbor json` and
friends, trimmed to the fields read), as the lab's routers print them.
"""

from __future__ import annotations

import json

import pytest

from estate import load
from estate.routing import Bfd, OspfInterface, RouterRouting
from playbooks.dual_links import (
    BFD,
    OSPF4,
    OSPF4_INTERFACES,
    OSPF6,
    OSPF6_INTERFACES,
    RolloutError,
    RouterTarget,
    Uplink,
    batches,
    estate_targets,
)
from playbooks.rollout import _pending
from playbooks.routing_check import check_router, documents

SMALL = "examples/small.yaml"
# hl as the estate declares it: costs 10/100, BFD 300 ms x 3 on the primary
# and 1000 ms x 5 on the backup.
HL_ROUTING = RouterRouting(
    "hl",
    "198.18.16.1",
    (
        OspfInterface("lan"),
        OspfInterface("up-p", 10, bfd=True, link="hl/primary", role="primary"),
        OspfInterface(
            "up-b", 100, bfd=True, link="hl/backup", role="backup", bfd_timers=Bfd(1000, 5)
        ),
    ),
)
HL = RouterTarget(
    "hl",
    "county",
    "py",
    HL_ROUTING.to_dict(),
    (Uplink("hl/primary", "primary", "up-p", True), Uplink("hl/backup", "backup", "up-b", True)),
)
ROUTE = "show ip route 198.18.8.1 json"


def _ospf4(*ifaces: tuple[str, str]) -> str:
    entries = [{"nbrState": f"{state}/-", "ifaceName": f"{i}:198.18.6.5"} for i, state in ifaces]
    return json.dumps({"neighbors": {"198.18.8.1": entries}})


def _ospf6(*ifaces: tuple[str, str]) -> str:
    return json.dumps({"neighbors": [{"state": s, "interfaceName": i} for i, s in ifaces]})


def _bfd(*peers: tuple[str, str, str], timers: dict[str, tuple[int, int]] | None = None) -> str:
    timers = {"up-p": (300, 3), "up-b": (1000, 5), **(timers or {})}
    return json.dumps(
        [
            {
                "peer": p,
                "interface": i,
                "status": s,
                "transmit-interval": timers[i][0],
                "receive-interval": timers[i][0],
                "detect-multiplier": timers[i][1],
            }
            for p, i, s in peers
        ]
    )


def _costs(v6: bool = False, **costs: int) -> str:
    """ospfd keys its interfaces under "interfaces", ospf6d at the top."""
    interfaces = {
        "lan": {"cost": 1},
        **{i.replace("_", "-"): {"cost": c} for i, c in costs.items()},
    }
    return json.dumps(interfaces if v6 else {"interfaces": interfaces})


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
    OSPF4_INTERFACES: _costs(up_p=10, up_b=100),
    OSPF6_INTERFACES: _costs(True, up_p=10, up_b=100),
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


def test_a_link_running_other_costs_or_timers_than_declared_is_named() -> None:
    seen = {
        **HEALTHY,
        OSPF6_INTERFACES: _costs(True, up_p=10, up_b=10),
        BFD: _bfd(
            ("198.18.6.0", "up-p", "up"),
            ("fe80::1", "up-p", "up"),
            ("198.18.6.2", "up-b", "up"),
            ("fe80::2", "up-b", "up"),
            timers={"up-b": (300, 3)},
        ),
    }
    assert [str(f) for f in check_router(HL, seen)] == [
        "hl hl/backup: OSPFv3 cost on up-b is 10, declared 100",
        "hl hl/backup: BFD (IPv4) on up-b runs transmit 300 ms, receive 300 ms x 3, "
        "declared 1000 ms x 5",
        "hl hl/backup: BFD (IPv6) on up-b runs transmit 300 ms, receive 300 ms x 3, "
        "declared 1000 ms x 5",
    ]
    unrouted = {**HEALTHY, OSPF4_INTERFACES: _costs(up_p=10)}
    assert [str(f) for f in check_router(HL, unrouted)] == [
        "hl hl/backup: OSPFv2 cost on up-b is absent, declared 100"
    ]


def test_a_router_that_answered_no_json_is_a_finding_not_a_crash() -> None:
    seen = {**HEALTHY, OSPF4: "% Unknown command", OSPF6_INTERFACES: ""}
    found = check_router(HL, seen)
    assert [f.seen for f in found] == [
        f"no JSON from `{OSPF4}`",
        f"no JSON from `{OSPF6_INTERFACES}`",
    ]


def test_the_city_is_judged_on_the_costs_of_its_downlinks() -> None:
    routing = RouterRouting(
        "py", "198.18.8.1", (OspfInterface("d0-p", 10, link="hl/primary", role="primary"),)
    )
    city = RouterTarget("py", "city", None, routing.to_dict())
    seen = {
        OSPF4: "{}",
        OSPF6: "{}",
        BFD: "[]",
        OSPF4_INTERFACES: _costs(d0_p=10),
        OSPF6_INTERFACES: _costs(True, d0_p=10),
    }
    assert check_router(city, seen) == []
    wrong = {**seen, OSPF4_INTERFACES: _costs(d0_p=20)}
    assert [str(f) for f in check_router(city, wrong)] == [
        "py hl/primary: OSPFv2 cost on d0-p is 20, declared 10"
    ]


def test_vtysh_documents_are_split_in_command_order() -> None:
    text = '{"neighbors":{}}\n[\n]\n{"a": [1]}'
    assert documents(text) == ['{"neighbors":{}}', "[\n]", '{"a": [1]}']
    assert documents('{"ok": 1}\n% Unknown command') == ['{"ok": 1}']


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
