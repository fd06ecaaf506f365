"""Every invariant passes on the real plan and fails on a plan broken the way it guards against."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from estate import Estate, load_text
from infra.invariants import INVARIANTS, check_all
from infra.planning import SECRET, Plan, Planned

Mutation = Callable[[Plan], Plan]


def edit(plan: Plan, match: Callable[[Planned], bool], **inputs: Any) -> Plan:
    """A copy of `plan` whose first matching resource has `inputs` changed (None deletes)."""
    resources = list(plan.resources)
    for i, r in enumerate(resources):
        if match(r):
            new = {**r.inputs, **inputs}
            resources[i] = dataclasses.replace(
                r, inputs={k: v for k, v in new.items() if v is not None}
            )
            return Plan(plan.estate, resources)
    raise AssertionError("nothing matched")


def drop(plan: Plan, match: Callable[[Planned], bool]) -> Plan:
    kept = [r for r in plan.resources if not match(r)]
    assert len(kept) < len(plan.resources), "nothing matched"
    return Plan(plan.estate, kept)


def unseal(plan: Plan, name: str) -> Plan:
    """The program forgot require_secret: the value arrives as a plain input."""
    return Plan(
        plan.estate,
        [dataclasses.replace(r, secrets=()) if r.name == name else r for r in plan.resources],
    )


def add(plan: Plan, resource: Planned) -> Plan:
    return Plan(plan.estate, [*plan.resources, resource])


def named(name: str, kind: str = "") -> Callable[[Planned], bool]:
    return lambda r: r.name == name and r.type.endswith(kind)


def failures(
    plan: Plan, estate: Estate, name: str, config: dict[str, Any] | None = None
) -> list[str]:
    (result,) = [r for r in check_all(plan, estate, config) if r.name == name]
    assert result.checked > 0
    return result.findings


def test_the_real_plan_passes_every_invariant(small_plan: Plan, small: Estate) -> None:
    results = check_all(small_plan, small)
    assert [r.name for r in results] == list(INVARIANTS)
    assert all(r.passed for r in results), [f for r in results for f in r.findings]
    assert all(r.checked > 0 for r in results)


EXTRA_RULE = Planned(
    urn="urn:pulumi:plan::yunwang::openstack:networking/secGroupRule:SecGroupRule::mysql",
    type="openstack:networking/secGroupRule:SecGroupRule",
    name="mysql-from-extranet",
    id="SecGroupRule/mysql",
    parent="",
    provider="",
    custom=True,
    inputs={
        "securityGroupId": "SecGroup/zone-management",
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": "tcp",
        "portRangeMin": 3306,
        "portRangeMax": 3306,
        "remoteAddressGroupId": "AddressGroupV2/zone-gov-extranet",
    },
)


CASES: list[tuple[str, str, Mutation, str]] = [
    (
        "isolation-matrix",
        "a rule the matrix does not allow",
        lambda p: add(p, EXTRA_RULE),
        "opens tcp/3306 from gov-extranet to management",
    ),
    (
        "isolation-matrix",
        "an allowed flow missing on the ingress side",
        lambda p: drop(p, named("zone-exchange-in-internet-tcp-443-v6", "SecGroupRule")),
        "tcp/443 from internet to exchange but no ingress IPv6 rule",
    ),
    (
        "isolation-matrix",
        "an allowed flow missing on the egress side",
        lambda p: drop(p, named("zone-exchange-out-gov-extranet-tcp-8443-v4", "SecGroupRule")),
        "tcp/8443 from exchange to gov-extranet but no egress IPv4 rule",
    ),
    (
        "isolation-matrix",
        "a group keeping its allow-all egress defaults",
        lambda p: edit(p, named("zone-exchange", "SecGroup"), deleteDefaultRules=False),
        "default rules kept",
    ),
    (
        "isolation-matrix",
        "a rule opened to 0.0.0.0/0",
        lambda p: edit(
            p,
            named("zone-management-in-gov-extranet-udp-514-v4", "SecGroupRule"),
            remoteAddressGroupId=None,
            remoteIpPrefix="0.0.0.0/0",
        ),
        "opens udp/514 from internet to management",
    ),
    (
        "isolation-matrix",
        "a port outside every group",
        lambda p: edit(p, named("jwzh-db-port", "Port"), securityGroupIds=[]),
        "jwzh-db-port: port without security groups",
    ),
    (
        "dual-stack",
        "a network without its IPv6 subnet",
        lambda p: drop(p, named("gaj-exchange-v6", "Subnet")),
        "gaj-exchange-net: no IPv6 subnet",
    ),
    (
        "dual-stack",
        "an IPv6 mode the zone does not use",
        lambda p: edit(p, named("gaj-exchange-v6", "Subnet"), ipv6AddressMode="dhcpv6-stateful"),
        "zone exchange says slaac",
    ),
    (
        "extranet-qos",
        "a township limited below what it is owed",
        lambda p: edit(p, named("extranet-township-qos-ingress"), maxKbps=20_000),
        "ingress limit 20000 kbit/s, owed 100000 kbit/s",
    ),
    (
        "extranet-qos",
        "a segment without QoS",
        lambda p: edit(p, named("extranet-qf-net", "Network"), qosPolicyId=None),
        "county qf has no QoS policy",
    ),
    (
        "extranet-qos",
        "a township without a segment",
        lambda p: drop(p, lambda r: r.name.startswith("extranet-qf-mzq-")),
        "township qf-mzq: no extranet segment",
    ),
    (
        "separation-of-duties",
        "one group holding two admin duties",
        lambda p: edit(p, named("gaj-audit-admin-role"), groupId="GroupV3/gaj-system-admin"),
        "group gaj-system-admin holds yunwang-audit-admin, yunwang-system-admin",
    ),
    (
        "separation-of-duties",
        "a tenant without an audit administrator",
        lambda p: drop(p, named("rsj-audit-admin-role")),
        "rsj-project: no group holds yunwang-audit-admin",
    ),
    (
        "explicit-quotas",
        "a quota field left to the provider's zero",
        lambda p: edit(p, named("gaj-compute-quota"), serverGroups=None),
        "gaj-compute-quota: serverGroups not set",
    ),
    (
        "explicit-quotas",
        "a tenant without a storage quota",
        lambda p: drop(p, named("dsjj-storage-quota")),
        "dsjj-project: no QuoteSetV3 in puyang-main",
    ),
    (
        "no-plain-secrets",
        "a provider password in plain text",
        lambda p: unseal(edit(p, named("gaj-provider"), password="hunter2"), "gaj-provider"),
        "gaj-provider: password is in plain text",
    ),
]


@pytest.mark.parametrize(
    ("name", "broken", "mutate", "expected"), CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES]
)
def test_invariant_fails_on_a_broken_plan(
    small_plan: Plan, small: Estate, name: str, broken: str, mutate: Mutation, expected: str
) -> None:
    assert not failures(small_plan, small, name), "the fixture must start clean"
    found = failures(mutate(small_plan), small, name)
    assert any(expected in f for f in found), found


def test_provider_secret_marked_in_plan(small_plan: Plan) -> None:
    provider = next(r for r in small_plan.resources if r.name == "admin")
    assert provider.inputs["password"] == SECRET and "password" in provider.secrets


def test_plain_password_in_stack_config_fails(small_plan: Plan, small: Estate) -> None:
    config = {"yunwang:estate": "x", "yunwang:password": "hunter2"}
    found = failures(small_plan, small, "no-plain-secrets", config)
    assert found == [
        "stack config yunwang:password is not a secure: value (pulumi config set --secret)"
    ]
    ok = {"yunwang:password": {"secure": "AAABAC..."}}
    assert failures(small_plan, small, "no-plain-secrets", ok) == []


def _small_with(small: Estate, old: str, new: str) -> Estate:
    with open(small.file, encoding="utf-8") as f:
        text = f.read()
    assert old in text
    return load_text(text.replace(old, new), small.file)


def test_groups_out_of_date_with_a_changed_matrix(small_plan: Plan, small: Estate) -> None:
    """The estate's matrix changed but the groups did not: both directions are caught."""
    tighter = _small_with(small, "allow: [tcp/443, tcp/8443], reason", "allow: [tcp/443], reason")
    found = failures(small_plan, tighter, "isolation-matrix")
    assert any("opens tcp/8443 from gov-extranet to exchange" in f for f in found)
    looser = _small_with(
        small, "allow: [tcp/443], reason: 公众门户", "allow: [tcp/443, tcp/80], reason: 公众门户"
    )
    found = failures(small_plan, looser, "isolation-matrix")
    assert any("tcp/80 from internet to exchange but no ingress" in f for f in found)


def test_owed_bandwidth_change_is_caught(small_plan: Plan, small: Estate) -> None:
    faster = _small_with(small, "township: 100Mbit/s", "township: 1Gbit/s")
    found = failures(small_plan, faster, "extranet-qos")
    assert len([f for f in found if "owed 1000000 kbit/s" in f]) == 2 * 4  # 4 townships x 2 ways
