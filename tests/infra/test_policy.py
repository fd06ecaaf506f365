"""The PolicyPack runs the same invariants on what the engine hands a policy."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.secret import Secret, secrets_preserving_proxy

from estate import Estate
from infra.invariants import INVARIANTS
from infra.planning import SECRET, Plan, Planned
from infra.policy.adapter import plan_from_policy, policies

OPTIONS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def _engine_view(plan: Plan, preview: bool) -> list[PolicyResource]:
    """What the engine would hand a stack policy: secrets wrapped; in a preview, ids unknown."""
    by_id = {r.id: r for r in plan.resources if r.custom}
    made: dict[str, PolicyResource] = {}
    for r in plan.resources:
        props: dict[str, Any] = {}
        for key, value in r.inputs.items():
            if preview and _refs(value, by_id):
                value = _blank(value, by_id)
            props[key] = Secret("real-password") if value == SECRET else value
        if not preview and r.custom:
            props["id"] = r.id
        made[r.urn] = PolicyResource(
            r.type, secrets_preserving_proxy(props), r.urn, r.name, OPTIONS, None, None, [], {}
        )
    for r in plan.resources:  # dependencies once every resource exists
        deps = {
            key: [made[by_id[ref].urn] for ref in _refs(value, by_id)]
            for key, value in r.inputs.items()
            if _refs(value, by_id)
        }
        made[r.urn].property_dependencies = deps
        made[r.urn].dependencies = [d for ds in deps.values() for d in ds]
    return list(made.values())


def _refs(value: Any, by_id: dict[str, Planned]) -> list[str]:
    if isinstance(value, str):
        return [value] if value in by_id else []
    if isinstance(value, list):
        return [ref for v in value for ref in _refs(v, by_id)]
    if isinstance(value, dict):
        return [ref for v in value.values() for ref in _refs(v, by_id)]
    return []


def _blank(value: Any, by_id: dict[str, Planned]) -> Any:
    if isinstance(value, str) and value in by_id:
        return None
    if isinstance(value, list):
        return [_blank(v, by_id) for v in value]
    if isinstance(value, dict):
        return {k: _blank(v, by_id) for k, v in value.items()}
    return value


def _violations(resources: list[PolicyResource], estate: Estate) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for policy in policies():
        assert isinstance(policy, StackValidationPolicy)
        messages: list[str] = []
        args = StackValidationArgs(resources, {"estate": estate.file})
        policy.validate(args, lambda message, urn=None, into=messages: into.append(message))
        found[policy.name] = messages
    return found


def test_pack_has_one_mandatory_policy_per_invariant() -> None:
    assert [p.name for p in policies()] == list(INVARIANTS)
    assert all(
        p.enforcement_level is not None and p.enforcement_level.value == "mandatory"
        for p in policies()
    )


def test_clean_stack_passes_after_update_and_in_preview(small_plan: Plan, small: Estate) -> None:
    for preview in (False, True):
        found = _violations(_engine_view(small_plan, preview), small)
        assert found == {name: [] for name in INVARIANTS}, (preview, found)


def test_adapter_keeps_secrets_and_relinks_references(small_plan: Plan) -> None:
    plan = plan_from_policy(_engine_view(small_plan, preview=True))
    admin = next(r for r in plan.resources if r.name == "admin")
    assert admin.inputs["password"] == SECRET and admin.secrets == ("password",)
    rule = next(r for r in plan.resources if r.name == "zone-exchange-in-internet-tcp-443-v4")
    group = next(r for r in plan.resources if r.name == "internet" or r.name == "zone-internet")
    assert rule.inputs["remoteAddressGroupId"] == group.id == group.urn


def test_broken_stack_is_reported(small_plan: Plan, small: Estate) -> None:
    resources = _engine_view(small_plan, preview=False)
    for r in resources:
        if r.name == "extranet-township-qos-egress":
            r.props["__target"]["maxKbps"] = 1000
        if r.name == "rsj-provider":
            r.props["__target"]["password"] = "plain"
    found = _violations(resources, small)
    assert any("egress limit 1000 kbit/s, owed 100000" in f for f in found["extranet-qos"])
    assert found["no-plain-secrets"] == [
        "rsj-provider: password is in plain text (use require_secret)"
    ]
    assert found["isolation-matrix"] == []


def test_missing_estate_is_one_violation(small_plan: Plan, small: Estate, tmp_path: Any) -> None:
    policy = policies()[0]
    assert isinstance(policy, StackValidationPolicy)
    messages: list[str] = []
    args = StackValidationArgs([], {"estate": str(tmp_path / "none.yaml")})
    policy.validate(args, lambda message, urn=None: messages.append(message))
    assert len(messages) == 1 and "none.yaml" in messages[0]


def test_example_policy_config_names_every_policy_and_a_real_estate() -> None:
    import json

    from .conftest import ROOT

    config = json.loads((ROOT / "infra" / "policy" / "policy-config.example.json").read_text())
    assert set(config) == set(INVARIANTS)
    for entry in config.values():
        assert (ROOT / entry["estate"]).is_file()
