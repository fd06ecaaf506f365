"""Cloud objects in one comparable shape, from the plan (desired) and from the APIs (live).

Both sides become `Obj`s keyed by (kind, key), where the key is what a
person would name the object: its name, or for objects without one their
parts (`gaj-system-admin member on gaj`, `zone-exchange ingress IPv4 tcp 443
from ag:zone-internet`). Ids never appear in keys: the plan's ids are
placeholders and the live ones are the cloud's, so names are the only thing
the two sides share, as they are for the operator reading the report.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

# The objects `verify cloud` compares, in report order.
KINDS = (
    "project",
    "group",
    "role_assignment",
    "network_quota",
    "storage_quota",
    "volume_type",
    "address_group",
    "qos_policy",
    "qos_rule",
    "security_group",
    "security_group_rule",
    "network",
    "subnet",
    "router",
    "port",
    "rbac_policy",
)
DEFAULT_GROUP = "default"  # Neutron makes one per project; yunwang never declares it


@dataclass(frozen=True)
class Obj:
    kind: str
    key: str
    fields: dict[str, Any] = field(default_factory=dict, compare=False)
    tenant: str | None = None  # the estate tenant (project name) it belongs to
    zone: str | None = None


State = dict[tuple[str, str], Obj]


def add(state: State, obj: Obj) -> None:
    state[(obj.kind, obj.key)] = obj


def ports(low: Any, high: Any) -> str:
    if low is None and high is None:
        return "any"
    return str(low) if low == high or high is None else f"{low}-{high}"


def rule_key(
    project: str,
    group: str,
    direction: str,
    ethertype: str,
    protocol: Any,
    low: Any,
    high: Any,
    remote: str,
) -> str:
    proto = str(protocol) if protocol not in (None, "") else "any"
    return f"{project}/{group} {direction} {ethertype} {proto} {ports(low, high)} {remote}"


def remote_prefix(prefix: str | None, ethertype: str) -> str:
    """A rule's remote prefix as Neutron means it: none is everything of the family."""
    if not prefix:
        return "0.0.0.0/0" if ethertype == "IPv4" else "::/0"
    return str(ipaddress.ip_network(prefix, strict=False))


def fixed_ip(subnet: str, address: Any) -> str:
    """`subnet=address`; `subnet=*` where the cloud picks the address (SLAAC)."""
    return f"{subnet}={norm_address(address) if address else ANY_ADDRESS}"


ANY_ADDRESS = "*"


def sorted_strs(values: Any) -> list[str]:
    return sorted(str(v) for v in values or [])


def norm_prefix(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return text


def norm_address(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text
