"""A node's `ipv6_mode`: the flags its LAN's Router Advertisements carry."""

from __future__ import annotations

import pytest

from estate.ipv6 import RaFlags, ra_flags
from tests.estate.helpers import dump, load_ok, mutated, node, problems_of, small_data


def test_a_node_without_one_advertises_slaac() -> None:
    estate = load_ok(dump(small_data()))
    assert {n.ipv6_mode for n in estate.nodes()} == {"slaac"}
    assert ra_flags(estate.node("hl").ipv6_mode) == RaFlags(
        managed=False, other=False, autonomous=True
    )


@pytest.mark.parametrize(
    ("mode", "flags"),
    [
        ("dhcpv6-stateful", RaFlags(managed=True, other=True, autonomous=False)),
        ("dhcpv6-stateless", RaFlags(managed=False, other=True, autonomous=True)),
    ],
)
def test_the_declared_mode_gives_its_flags(mode: str, flags: RaFlags) -> None:
    estate = load_ok(mutated(lambda data: node(data, "hl").update(ipv6_mode=mode)))
    assert estate.node("hl").ipv6_mode == mode
    assert ra_flags(estate.node("hl").ipv6_mode) == flags
    assert estate.node("hl-zyl").ipv6_mode == "slaac"  # not inherited: each LAN its own


def test_an_unknown_mode_is_one_line_naming_the_node() -> None:
    text = mutated(lambda data: node(data, "hl").update(ipv6_mode="dhcp"))
    (problem,) = problems_of(text)
    line = next(i for i, raw in enumerate(text.splitlines(), 1) if "ipv6_mode: dhcp" in raw)
    assert problem.startswith(f"t.yaml:{line}: extranet.nodes[")
    assert ".ipv6_mode: " in problem and "'slaac'" in problem and "\n" not in problem
