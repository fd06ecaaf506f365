"""Properties over generated estates: any valid estate plans clean, and the rules mean the matrix."""

from __future__ import annotations

from collections import Counter
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estate import Estate, load_text
from infra.invariants import check_all
from infra.planning import plan_estates
from infra.security_groups import RuleSpec, guarded_zones, matrix_rules, zone_address_sets

from .conftest import ROOT

BASE: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "small.yaml").read_text("utf-8"))
SERVICES = ["tcp/443", "tcp/22", "udp/161", "udp/514", "tcp/8000-8010", "icmp", "icmpv6"]
MODES = ["slaac", "dhcpv6-stateful", "dhcpv6-stateless"]


@st.composite
def estates(draw: st.DrawFn) -> Estate:
    extra = draw(st.lists(st.sampled_from(MODES), max_size=2))
    zones = [
        {"name": "gov-extranet", "kind": "extranet", "ipv6_mode": draw(st.sampled_from(MODES))},
        {"name": "internet", "kind": "internet"},
        {"name": "exchange", "ipv6_mode": draw(st.sampled_from(MODES))},
        {"name": "management"},
        *({"name": f"zone{i}", "ipv6_mode": mode} for i, mode in enumerate(extra)),
    ]
    names = [z["name"] for z in zones]
    hosting = [n for n in names if n != "internet"]
    rules = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "from": st.sampled_from([*names, "*"]),
                    "to": st.sampled_from([*names, "*"]),
                    "allow": st.lists(
                        st.sampled_from(SERVICES), min_size=1, max_size=3, unique=True
                    ),
                }
            ),
            max_size=6,
        ).filter(lambda rs: all(r["from"] != r["to"] for r in rs))
    )
    tenants = []
    for t in range(draw(st.integers(1, 3))):
        systems = [
            {
                "code": f"s{k}",
                "name": f"system {k}",
                "zone": draw(st.sampled_from(hosting)),
                "mlps_level": draw(st.sampled_from([2, 3])),
                "dr_class": draw(st.sampled_from([None, "gold", "bronze"])),
                "hosts": [{"name": f"t{t}s{k}h", "count": draw(st.integers(1, 2))}],
            }
            for k in range(draw(st.integers(1, 3)))
        ]
        tenants.append({"code": f"t{t}", "name": f"tenant {t}", "systems": systems})
    spec = {**BASE, "zones": zones, "isolation": rules, "tenants": tenants}
    spec["address_plan"] = {k: v for k, v in BASE["address_plan"].items() if k != "overrides"}
    return load_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), "generated.yaml")


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estates())
def test_every_generated_estate_plans_clean(estate: Estate) -> None:
    (plan,) = plan_estates([estate], workers=1)
    results = check_all(plan, estate)
    assert all(r.passed for r in results), [f for r in results for f in r.findings][:10]
    types = Counter(r.type.rsplit(":", 1)[-1] for r in plan.resources)
    hosts = sum(len(s.hosts) for s in estate.systems())
    assert types["Instance"] == types["Port"] == types["VolumeAttach"] == hosts
    assert types["SecGroup"] == len(guarded_zones(estate))
    assert types["Project"] == len(estate.tenants)


def _covered(
    specs: list[RuleSpec], zone: str, direction: str, other: str, proto: str, port: int | None
) -> bool:
    for family, neutron in _neutron(proto):
        if not any(
            s.zone == zone
            and s.direction == direction
            and s.remote_zone == other
            and s.ethertype == family
            and s.protocol in (None, neutron)
            and (
                s.port_min is None
                or (port is not None and s.port_min <= port <= (s.port_max or s.port_min))
            )
            for s in specs
        ):
            return False
    return True


def _neutron(proto: str) -> list[tuple[str, str]]:
    if proto == "icmpv6":
        return [("IPv6", "ipv6-icmp")]
    if proto == "icmp":
        return [("IPv4", "icmp")]
    return [("IPv4", proto), ("IPv6", proto)]


@settings(max_examples=40, deadline=None)
@given(
    estates(),
    st.sampled_from(["tcp", "udp", "icmp", "icmpv6"]),
    st.sampled_from([None, 22, 161, 443, 514, 8005, 9999]),
)
def test_rules_open_exactly_what_the_matrix_allows(
    estate: Estate, proto: str, port: int | None
) -> None:
    """For every pair of zones: allowed by the matrix <=> opened on both sides that have groups."""
    specs = matrix_rules(estate)
    guarded = set(guarded_zones(estate))
    if proto in ("icmp", "icmpv6"):
        port = None
    for src in (z.name for z in estate.zones):
        for dst in (z.name for z in estate.zones):
            if src == dst:
                continue
            allowed = estate.allowed(src, dst, proto, port)
            sides = []
            if dst in guarded:
                sides.append(_covered(specs, dst, "ingress", src, proto, port))
            if src in guarded:
                sides.append(_covered(specs, src, "egress", dst, proto, port))
            assert all(sides) == allowed or not sides, (src, dst, proto, port)


@settings(max_examples=20, deadline=None)
@given(
    estates(),
    st.lists(st.integers(0, 2**32 - 1), min_size=20, max_size=20),
    st.lists(st.integers(0, 2**20 - 1), min_size=20, max_size=20),
)
def test_zone_address_sets_agree_with_zone_of(
    estate: Estate, v4: list[int], v6_low: list[int]
) -> None:
    sets = zone_address_sets(estate)
    plan6 = next(a.ipv6 for a in estate.prefixes() if a.kind == "region" and a.key == "cloud")
    samples: list[IPv4Address | IPv6Address] = [IPv4Address(n) for n in v4]
    samples += [IPv4Address(int(IPv4Address("10.32.0.0")) + n) for n in v6_low]  # inside the plan
    samples += [IPv6Address(int(plan6.network_address) + (n << 64)) for n in v6_low]
    for address in samples:
        owners = [
            z
            for z, nets in sets.items()
            if any(address in n for n in nets if n.version == address.version)
        ]
        assert owners == ([estate.zone_of(address)] if estate.zone_of(address) else []), address
