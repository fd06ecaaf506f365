"""How the dual-link rollout and the IPv6 migration compose, without a lab.

A router is judged on what it is declared or migrated to run: an IPv4-only
router on IPv4 alone, a migrated one on both families; and the rollout
renders a migrated router exactly as the migration left it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from estate import load
from playbooks.dual_links import (
    BFD,
    OBSERVE4,
    OSPF6,
    OSPF6_INTERFACES,
    inventory,
    observe,
    with_migration,
)
from playbooks.dual_links import estate_targets as rollout_targets
from playbooks.migration_estate import estate_routers
from playbooks.migration_routers import PIECES, render
from playbooks.roles.dual_links.filter_plugins.yunwang_frr import frr_config
from playbooks.routing_check import check_router
from tests.rollout.test_rollout_units import HEALTHY, HL, _bfd

SMALL = "examples/small.yaml"


def test_an_ipv4_only_router_is_judged_on_ipv4_alone() -> None:
    hl = replace(HL, routing={**HL.routing, "ospf6": False})
    seen = {k: v for k, v in HEALTHY.items() if k not in (OSPF6, OSPF6_INTERFACES)}
    seen[BFD] = _bfd(("198.18.6.0", "up-p", "up"), ("198.18.6.2", "up-b", "up"))
    assert check_router(hl, seen) == []
    # ... and its verification does not ask ospf6d at all.
    commands = inventory([hl])["all"]["hosts"]["hl"]["dual_links_observe"]
    assert observe(False) == OBSERVE4 and OSPF6 not in commands


def test_a_dual_stack_router_still_needs_ospfv3_full_and_ipv6_bfd() -> None:
    seen = {**HEALTHY, OSPF6: '{"neighbors": []}'}
    found = [str(f) for f in check_router(HL, seen)]
    assert "hl hl/primary: OSPFv3 neighbour on up-p is absent, expected Full" in found
    seen = {**HEALTHY, BFD: _bfd(("198.18.6.0", "up-p", "up"), ("198.18.6.2", "up-b", "up"))}
    found = [str(f) for f in check_router(HL, seen)]
    assert "hl hl/primary: BFD (IPv6) on up-p is absent, expected up" in found


def test_the_rollout_renders_a_migrated_router_as_the_migration_left_it() -> None:
    estate = load(SMALL)
    targets = rollout_targets(estate)
    routers = estate_routers(estate)
    composed = {t.node: t for t in with_migration(targets, routers, {"hl"})}
    hl = composed["hl"]
    assert hl.ospf6 and hl.ipv6["pieces"] == list(PIECES)
    text = frr_config(hl.routing, "hl", hl.preamble, hl.ipv6)
    (router,) = [r for r in routers if r.name == "hl"]
    assert text == render(router, PIECES)
    assert " ipv6 address 2001:db8:3900:8800::1/64" in text and "router ospf6" in text
    assert " no ipv6 nd suppress-ra" in text
    # Routers not migrated stay IPv4-only: no OSPFv3, no IPv6 address, no RA.
    py = composed["py"]
    plain = frr_config(py.routing, "py", py.preamble, py.ipv6)
    assert not py.ospf6 and "ospf6" not in plain and "ipv6" not in plain
    assert plain == render(next(r for r in routers if r.name == "py"), [])


def test_the_rollout_reads_which_routers_the_migration_record_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playbooks.migration_record import record_path, save
    from yunwang.commands.rollout import _with_migration

    monkeypatch.setenv("YUNWANG_HOME", str(tmp_path))
    estate = load(SMALL)
    targets = rollout_targets(estate)
    assert _with_migration(targets, estate, Path(SMALL), None) == (targets, [])
    entry = {"stage": "county", "router": "hl", "migrated_at": "-", "by": "t", "added": []}
    save(
        record_path(SMALL, lab=False),
        {"hl": {**entry, "kind": "router"}, "hl-app-1": {**entry, "kind": "host"}},
    )
    composed, migrated = _with_migration(targets, estate, Path(SMALL), None)
    assert migrated == ["hl"]
    assert [t.node for t in composed if t.ipv6] == ["hl"]
    # The lab's record is another file: a rehearsal never marks the network migrated.
    assert not record_path(SMALL, lab=True).exists()
