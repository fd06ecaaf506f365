"""The dual links' OSPF costs and BFD timers, declared in the estate.

`extranet.dual_links` gives the estate's costs per role and its BFD timers
and levels; an uplink may carry its own `cost` and `bfd`. Unset, they are
what the estate used before they could be declared (10/100, 300 ms x 3 on
county and township links), so existing estates route as before.
"""

from __future__ import annotations

from typing import Any

import pytest

from estate.routing import Bfd, RouterRouting, render_frr, router_routing
from tests.estate.helpers import dump, load_ok, mutated, node, problems_of, small_data


def _plan(data: dict[str, Any], **plan: object) -> None:
    data["extranet"]["dual_links"] = plan


def test_an_estate_without_a_plan_keeps_the_costs_and_timers_it_had() -> None:
    estate = load_ok(dump(small_data()))
    hl = {lk.role: lk for lk in estate.links() if lk.child == "hl"}
    assert (hl["primary"].cost, hl["backup"].cost) == (10, 100)
    assert hl["primary"].bfd == hl["backup"].bfd == Bfd(300, 3)
    village = next(lk for lk in estate.links(level="village"))
    assert village.bfd is None  # villages hang off one link: no BFD unless declared


def test_declared_costs_and_timers_reach_both_ends_of_every_link() -> None:
    def edit(data: dict[str, Any]) -> None:
        _plan(data, primary_cost=20, backup_cost=200, bfd={"interval_ms": 150, "multiplier": 4})

    estate = load_ok(mutated(edit))
    for name in ("hl", "py"):  # hl's uplinks, and the city's downlinks to hl
        routing = router_routing(estate, name)
        ends = {i.link: i for i in routing.interfaces if i.link in ("hl/primary", "hl/backup")}
        assert {k: i.cost for k, i in ends.items()} == {"hl/primary": 20, "hl/backup": 200}
        assert all(routing.timers(i) == Bfd(150, 4) for i in ends.values())
        text = render_frr(routing, hostname=name)
        for family in ("ip ospf", "ipv6 ospf6"):
            assert f" {family} cost 20\n" in text and f" {family} cost 200\n" in text
        assert " profile yunwang\n  transmit-interval 150\n  receive-interval 150\n" in text
        assert "  detect-multiplier 4\n" in text


def test_a_link_of_its_own_gets_its_own_cost_and_bfd_profile() -> None:
    def edit(data: dict[str, Any]) -> None:
        backup = node(data, "hl")["uplinks"][1]
        backup["cost"] = 50
        backup["bfd"] = {"interval_ms": 1000, "multiplier": 5}

    estate = load_ok(mutated(edit))
    routing = router_routing(estate, "hl")
    up = {i.role: i for i in routing.interfaces if i.link and i.link.startswith("hl/")}
    assert (up["primary"].cost, up["backup"].cost) == (10, 50)
    assert routing.timers(up["primary"]) == Bfd(300, 3)
    assert routing.timers(up["backup"]) == Bfd(1000, 5)
    text = render_frr(routing, hostname="hl")
    assert " profile yunwang-1000x5\n  transmit-interval 1000\n" in text
    assert f"interface {up['backup'].name}\n" in text
    backup_block = text.split(f"interface {up['backup'].name}\n")[1].split("exit")[0]
    assert " ip ospf bfd profile yunwang-1000x5\n" in backup_block
    assert " ipv6 ospf6 bfd profile yunwang-1000x5\n" in backup_block
    assert RouterRouting.from_dict(routing.to_dict()) == routing


def test_bfd_levels_choose_which_links_run_bfd() -> None:
    estate = load_ok(mutated(lambda d: _plan(d, bfd={"levels": ["county"]})))
    assert all(lk.bfd is not None for lk in estate.links(level="county"))
    assert all(lk.bfd is None for lk in estate.links(level="township"))
    text = render_frr(router_routing(estate, "hl-zyl"), hostname="hl-zyl")
    assert "ospf bfd" not in text


def _bad_plan(**plan: object) -> list[str]:
    return problems_of(mutated(lambda d: _plan(d, **plan)))


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (
            {"primary_cost": 100, "backup_cost": 100},
            "extranet.dual_links: backup_cost: expected more than primary_cost (100) so "
            "traffic prefers the primary, found 100",
        ),
        (
            {"backup_cost": 70000},
            "extranet.dual_links.backup_cost: input should be less than or equal to 65535, "
            "found 70000",
        ),
        (
            {"primary_cost": 0},
            "extranet.dual_links.primary_cost: input should be greater than or equal to 1, found 0",
        ),
        (
            {"primary_cost": "ten"},
            "extranet.dual_links.primary_cost: input should be a valid integer, found 'ten'",
        ),
        (
            {"bfd": {"interval_ms": 5}},
            "extranet.dual_links.bfd.interval_ms: input should be greater than or equal to 10, "
            "found 5",
        ),
        (
            {"bfd": {"multiplier": 1}},
            "extranet.dual_links.bfd.multiplier: input should be greater than or equal to 2, "
            "found 1",
        ),
        (
            {"bfd": {"interval_ms": 300.5}},
            "extranet.dual_links.bfd.interval_ms: input should be a valid integer, found 300.5",
        ),
        (
            {"bfd": {"levels": ["city"]}},
            "extranet.dual_links.bfd.levels[0]: input should be 'county', 'township' or "
            "'village', found 'city'",
        ),
        (
            {"bfd": {"interval": 300}},
            "extranet.dual_links.bfd.interval: unknown key 'interval' (expected one of: interval_ms, "
            "levels, multiplier)",
        ),
    ],
)
def test_a_bad_plan_is_one_line_naming_file_path_and_what_was_expected(
    plan: dict[str, object], expected: str
) -> None:
    (problem,) = _bad_plan(**plan)
    assert problem.startswith("t.yaml:") and problem.split(": ", 1)[1] == expected


def test_a_link_cost_that_makes_the_backup_preferred_names_the_uplink() -> None:
    def edit(data: dict[str, Any]) -> None:
        node(data, "hl")["uplinks"][1]["cost"] = 5

    (problem,) = problems_of(mutated(edit))
    index = [n["id"] for n in small_data()["extranet"]["nodes"]].index("hl")
    assert problem.startswith("t.yaml:")
    assert problem.split(": ", 1)[1] == (
        f"extranet.nodes[{index}].uplinks[1].cost: expected the backup uplink to cost more "
        "than the primary (10) so traffic prefers the primary, found backup cost 5"
    )


def test_a_primary_cost_above_the_backup_names_the_primary() -> None:
    def edit(data: dict[str, Any]) -> None:
        node(data, "hl")["uplinks"][0]["cost"] = 150

    (problem,) = problems_of(mutated(edit))
    assert ".uplinks[0].cost: expected the backup uplink to cost more than the primary (150)" in (
        problem
    )


def test_a_bad_link_bfd_is_one_line() -> None:
    def edit(data: dict[str, Any]) -> None:
        node(data, "hl")["uplinks"][0]["bfd"] = {"interval_ms": 90000}

    (problem,) = problems_of(mutated(edit))
    assert problem.endswith(
        ".uplinks[0].bfd.interval_ms: input should be less than or equal to 60000, found 90000"
    )
