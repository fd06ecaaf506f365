"""PolicyPack resources -> a `Plan`, so the invariants run unchanged under `pulumi preview/up`.

The engine hands policies the resources' properties with secrets wrapped
(`pulumi_policy.secret.Secret`) and, in a preview, without the ids of
resources not yet created. References then come from the property
dependencies the engine records; a resource's id is its real id when the
engine gave one, else its URN, and references are rewritten to match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.secret import Secret

from estate import EstateError, load
from infra.invariants import INVARIANTS, Index
from infra.planning import SECRET, Plan, Planned

ESTATE_CONFIG = PolicyConfigSchema(
    properties={"estate": {"type": "string", "description": "path of the estate file"}},
    required=["estate"],
)


def _raw(props: Any) -> Any:
    """The properties with their Secret wrappers (the policy SDK's proxy hides them)."""
    try:
        return props["__target"]
    except (KeyError, TypeError, IndexError):
        return props


def _convert(value: Any, path: str, secrets: list[str]) -> Any:
    value = _raw(value)
    if isinstance(value, Secret):
        secrets.append(path)
        return SECRET
    if isinstance(value, Mapping):
        return {
            str(k): _convert(v, f"{path}.{k}" if path else str(k), secrets)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_convert(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def plan_from_policy(resources: Sequence[PolicyResource]) -> Plan:
    ids: dict[str, str] = {}
    for r in resources:
        known = _raw(r.props).get("id") if isinstance(_raw(r.props), Mapping) else None
        ids[r.urn] = known if isinstance(known, str) and known else r.urn
    planned = []
    for r in resources:
        secrets: list[str] = []
        inputs = _convert(r.props, "", secrets)
        for prop, deps in (r.property_dependencies or {}).items():
            refs = [ids[d.urn] for d in deps if d.urn in ids]
            inputs[prop] = _relink(inputs.get(prop), refs, set(ids.values()))
        planned.append(
            Planned(
                urn=r.urn,
                type=r.resource_type,
                name=r.name,
                id=ids[r.urn],
                parent=r.parent.urn if r.parent is not None else "",
                provider=r.provider.urn if r.provider is not None else "",
                custom=not r.resource_type.startswith("yunwang:"),
                inputs=inputs,
                secrets=tuple(secrets),
            )
        )
    return Plan(estate="", resources=planned)


def _relink(value: Any, refs: list[str], known: set[str]) -> Any:
    """Fill references the preview left unknown, in the order the engine recorded them."""
    if not refs:
        return value
    pending = iter(refs)
    if value is None or (isinstance(value, str) and value not in known):
        return refs[0] if len(refs) == 1 else value
    if isinstance(value, list) and all(isinstance(v, str) or v is None for v in value):
        return [v if isinstance(v, str) and v in known else next(pending, v) for v in value]
    if isinstance(value, list):  # e.g. fixedIps: [{subnetId, ipAddress}]
        out = []
        for item in value:
            if isinstance(item, dict):
                item = {
                    k: (next(pending, v) if k.endswith("Id") and v not in known else v)
                    for k, v in item.items()
                }
            out.append(item)
        return out
    return value


def stack_policy(name: str) -> StackValidationPolicy:
    title, check = INVARIANTS[name]

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        path = str(args.get_config().get("estate", ""))
        try:
            estate = load(path)
        except EstateError as exc:
            report(f"estate {path}: {exc.problems[0] if exc.problems else exc}", None)
            return
        plan = plan_from_policy(args.resources)
        _, findings = check(Index(plan, estate), {})
        for finding in findings:
            report(finding, None)

    return StackValidationPolicy(
        name=name,
        description=title,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=ESTATE_CONFIG,
    )


def policies() -> list[Policy]:
    return [stack_policy(name) for name in INVARIANTS]
