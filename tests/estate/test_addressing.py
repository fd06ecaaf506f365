"""Allocation is deterministic, overlap-free and stable when the estate grows."""

from __future__ import annotations

import itertools
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estate import Estate
from tests.estate.helpers import dump, load_ok

ZONES = ["gov-extranet", "exchange", "management", "dr-replication", "office", "video"]


def _estate(counties: list[list[int]], tenants: list[list[int]], zones: int) -> dict[str, Any]:
    zone_names = ZONES[:zones]
    nodes: list[dict[str, Any]] = [
        {"id": "c", "name": "市", "level": "city", "devices": [{"name": "c-1"}, {"name": "c-2"}]}
    ]
    for ci, townships in enumerate(counties):
        cid = f"k{ci}"
        nodes.append(
            {
                "id": cid,
                "name": f"县{ci}",
                "level": "county",
                "parent": "c",
                "devices": [{"name": f"{cid}-1"}, {"name": f"{cid}-2"}],
                "uplinks": [
                    {"role": "primary", "interface": "up1", "parent_interface": f"a{ci}"},
                    {
                        "role": "backup",
                        "interface": "up2",
                        "parent_interface": f"b{ci}",
                        "parent_device": "c-2",
                    },
                ],
            }
        )
        for ti, villages in enumerate(townships):
            tid = f"{cid}-t{ti}"
            township: dict[str, Any] = {
                "id": tid,
                "name": f"镇{ti}",
                "level": "township",
                "parent": cid,
                "devices": [{"name": f"{tid}-1"}],
                "uplinks": [
                    {"role": "primary", "interface": "up1", "parent_interface": f"t{ti}a"},
                    {"role": "backup", "interface": "up2", "parent_interface": f"t{ti}b"},
                ],
            }
            if villages:
                township["villages"] = {"count": villages}
            nodes.append(township)
    return {
        "city": {"name": "市", "code": "c"},
        "sites": {"main": {"name": "m", "region": "m"}, "dr": {"name": "d", "region": "d"}},
        "address_plan": {"ipv4": "10.0.0.0/12", "ipv6": "2001:db8:100::/48"},
        "zones": [
            {"name": z, "kind": "extranet" if z == "gov-extranet" else "cloud"} for z in zone_names
        ]
        + [{"name": "internet", "kind": "internet"}],
        "extranet": {"nodes": nodes},
        "monitoring": {
            "default_credential": "v3",
            "credentials": {
                "v3": {"user": "u", "auth_key": {"env": "A"}, "priv_key": {"env": "P"}}
            },
        },
        "tenants": [
            {
                "code": f"t{i}",
                "name": f"部门{i}",
                "systems": [
                    {
                        "code": f"s{j}",
                        "name": "系统",
                        "zone": zone_names[z % zones],
                        "mlps_level": 3,
                        "hosts": [{"name": f"t{i}-s{j}", "count": 2}],
                    }
                    for j, z in enumerate(system_zones)
                ],
            }
            for i, system_zones in enumerate(tenants)
        ],
    }


def _leaves(estate: Estate) -> tuple[list[IPv4Network], list[IPv6Network]]:
    v4: list[IPv4Network] = []
    v6: list[IPv6Network] = []
    for node in estate.nodes():
        v4.append(node.lan4)
        v6.append(node.lan6)
    for link in estate.links():
        v4.append(link.net4)
        v6.append(link.net6)
    for alloc in estate.prefixes("tenant"):
        v4.append(alloc.ipv4)
        v6.append(alloc.ipv6)
    return v4, v6


def _disjoint(nets: list[Any]) -> bool:
    spans = sorted((int(n.network_address), int(n.broadcast_address)) for n in nets)
    return all(prev_end < start for (_, prev_end), (start, _) in itertools.pairwise(spans))


estates = st.builds(
    _estate,
    counties=st.lists(st.lists(st.integers(0, 12), max_size=5), min_size=1, max_size=6),
    tenants=st.lists(st.lists(st.integers(0, 5), max_size=4), max_size=8),
    zones=st.integers(1, 6),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estates)
def test_allocation_is_deterministic_and_overlap_free(data: dict[str, Any]) -> None:
    first, second = load_ok(dump(data)), load_ok(dump(data))
    assert first.prefixes() == second.prefixes()
    v4, v6 = _leaves(first)
    assert _disjoint(v4) and _disjoint(v6)
    hosts = [h for s in first.systems() for h in s.hosts]
    assert len({h.address4 for h in hosts}) == len(hosts)
    assert len({h.address6 for h in hosts}) == len(hosts)
    for node in first.nodes():
        assert node.lan6.prefixlen == 64
        assert first.zone_of(node.lan4.network_address) == "gov-extranet"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estates)
def test_appending_never_renumbers_what_exists(data: dict[str, Any]) -> None:
    before = {a.ref: (a.ipv4, a.ipv6) for a in load_ok(dump(data)).prefixes()}
    data["tenants"].append(
        {
            "code": "late",
            "name": "新部门",
            "systems": [
                {"code": "x", "name": "新系统", "zone": data["zones"][0]["name"], "mlps_level": 2}
            ],
        }
    )
    last = data["extranet"]["nodes"][-1]
    if last["level"] == "township":
        last["villages"] = {"count": last.get("villages", {}).get("count", 0) + 1}
    after = {a.ref: (a.ipv4, a.ipv6) for a in load_ok(dump(data)).prefixes()}
    assert all(after[ref] == value for ref, value in before.items())
