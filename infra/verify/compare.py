"""Desired against live: missing, different and unmanaged objects, with what each exposes.

A finding only states facts (which object, which fields, what it opens);
its warning level comes from the YW-CLOUD-* rule files, like every other
producer's events, so the grading is written, tested and overridden in one
place.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Literal

from infra.security_groups import Network
from infra.verify.state import ANY_ADDRESS, DEFAULT_GROUP, KINDS, Obj, State

Finding = Literal["missing", "different", "unmanaged"]
SSH = 22
ANYWHERE = ("0.0.0.0/0", "::/0")
# What Neutron puts in a project's `default` group: members talk to each
# other, anything may leave. Rules beyond these were added by someone.
DEFAULT_RULES = (
    "ingress IPv4 any any sg:default",
    "ingress IPv6 any any sg:default",
    "egress IPv4 any any 0.0.0.0/0",
    "egress IPv6 any any ::/0",
)
# Live objects the cloud makes for itself; never "unmanaged".
CLOUD_PROJECTS = frozenset({"service"})
CLOUD_VOLUME_TYPES = frozenset({"__DEFAULT__"})  # Cinder's migration creates it
QUOTAS = frozenset({"network_quota", "storage_quota"})


@dataclass(frozen=True)
class Drift:
    finding: Finding
    kind: str
    key: str
    region: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name -> (want, have)
    tenant: str | None = None
    zone: str | None = None
    exposure: str | None = None  # internet-ssh, internet, forbidden-zone-pair
    change: str | None = None  # raised / lowered, for quotas

    @property
    def summary(self) -> str:
        if self.finding == "different":
            parts = [f"{n}: {w!r} -> {h!r}" for n, (w, h) in sorted(self.fields.items())]
            return "; ".join(parts)
        return self.exposure or ""


def compare(
    desired: State,
    live: State,
    region: str,
    admin_project: str,
    zone_sets: dict[str, list[Network]],
) -> list[Drift]:
    managed_projects = {o.key for o in desired.values() if o.kind == "project"} | {admin_project}
    drifts: list[Drift] = []
    for (kind, key), want in desired.items():
        have = live.get((kind, key))
        if have is None:
            drifts.append(Drift("missing", kind, key, region, tenant=want.tenant, zone=want.zone))
            continue
        delta = {
            name: (value, have.fields.get(name))
            for name, value in want.fields.items()
            if not _same(value, have.fields.get(name))
        }
        if delta:
            drifts.append(
                Drift(
                    "different",
                    kind,
                    key,
                    region,
                    delta,
                    tenant=want.tenant,
                    zone=want.zone,
                    change=_quota_change(delta) if kind in QUOTAS else None,
                )
            )
    for (kind, key), have in live.items():
        if (kind, key) in desired or not _ours_to_judge(have, managed_projects, admin_project):
            continue
        exposure = _exposure(have, zone_sets) if kind == "security_group_rule" else None
        drifts.append(
            Drift(
                "unmanaged",
                kind,
                key,
                region,
                tenant=have.tenant,
                zone=have.zone,
                exposure=exposure,
            )
        )
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted(drifts, key=lambda d: (order.get(d.kind, 99), d.key, d.finding))


def _ours_to_judge(obj: Obj, managed: set[str], admin_project: str) -> bool:
    """Unmanaged objects worth reporting: not the cloud's own furniture."""
    if obj.fields.get("project") == "":
        return False  # owned by no project: Neutron's own (HA router networks and the like)
    if obj.kind == "project":
        return obj.key not in CLOUD_PROJECTS and obj.key != admin_project
    if obj.kind in QUOTAS:
        return False  # every project has quotas; an undeclared project is reported itself
    if obj.kind == "volume_type":
        return obj.key not in CLOUD_VOLUME_TYPES
    if obj.kind == "role_assignment":
        return obj.tenant in managed and obj.tenant != admin_project
    if obj.kind == "security_group":
        return obj.key.rsplit("/", 1)[-1] != DEFAULT_GROUP
    if obj.kind == "security_group_rule":
        group, rest = obj.key.split(" ", 1)
        return not (group.rsplit("/", 1)[-1] == DEFAULT_GROUP and rest in DEFAULT_RULES)
    return True


def _same(want: Any, have: Any) -> bool:
    """Equal; lists as sets of items, where a wanted `subnet=*` fixed IP takes
    whatever address the cloud chose in that subnet."""
    if not (isinstance(want, list) and isinstance(have, list)):
        return bool(want == have)
    if len(want) != len(have):
        return False
    rest = list(have)
    for w in sorted(want, key=lambda item: str(item).endswith(WILD)):  # exact items first
        match = next((h for h in rest if _fits(w, h)), None)
        if match is None:
            return False
        rest.remove(match)
    return True


WILD = "=" + ANY_ADDRESS


def _fits(want: Any, have: Any) -> bool:
    if isinstance(want, str) and want.endswith(WILD):
        return str(have).startswith(want.removesuffix(ANY_ADDRESS))
    return bool(want == have)


def _quota_change(delta: dict[str, tuple[Any, Any]]) -> str:
    """Raised when any limit went up (more than the estate allows), else lowered."""
    raised = any(
        isinstance(w, int) and isinstance(h, int) and (h > w or (h == -1 and w != -1))
        for w, h in delta.values()
    )
    return "raised" if raised else "lowered"


def _exposure(rule: Obj, zone_sets: dict[str, list[Network]]) -> str | None:
    """What an extra ingress rule opens: the internet's ssh, the internet, or another zone."""
    _group, direction, _ethertype, protocol, ports, remote = rule.key.split(" ")
    if direction != "ingress":
        return None
    reaches_ssh = protocol in ("any", "tcp") and _covers(ports, SSH)
    if remote in ANYWHERE:
        return "internet-ssh" if reaches_ssh else "internet"
    if rule.zone is None:
        return None
    others = _zones_reached(remote, zone_sets) - {rule.zone}
    return "forbidden-zone-pair" if others else None


def _covers(ports: str, port: int) -> bool:
    if ports == "any":
        return True
    low, _, high = ports.partition("-")
    return int(low) <= port <= int(high or low)


def _zones_reached(remote: str, zone_sets: dict[str, list[Network]]) -> set[str]:
    if remote.startswith("ag:zone-"):
        return {remote.removeprefix("ag:zone-")}
    if remote.startswith(("ag:", "sg:")):
        return set()
    net = ipaddress.ip_network(remote, strict=False)
    return {
        zone
        for zone, prefixes in zone_sets.items()
        if any(p.version == net.version and p.overlaps(net) for p in prefixes)
    }
