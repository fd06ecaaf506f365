"""Hardening targets and their Ansible inventory, from the estate (or the lab).

Every value the mlps role needs comes from here: the host's MLPS level (its
system's), its zone's row of the isolation matrix as firewall allows, the log
collector and NTP servers, the three administrators. A city's own choices
(administrator names and keys, password policy, login user) live in an
optional policy file next to the estate; secrets in it are references only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from estate import Estate
from estate.isolation import IsolationRule
from estate.model import Zone
from estate.secrets import SecretMissing, SecretRef
from estate.source import YAML_LOAD_ERRORS

MANAGEMENT_ZONE = "management"
ANY4, ANY6 = "0.0.0.0/0", "::/0"


class InventoryError(Exception):
    """A policy or --limit the user got wrong; str() is one line."""


class Collector(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = Field(default="", max_length=255)
    port: int = Field(default=514, ge=1, le=65535)
    protocol: str = Field(default="udp", pattern="^(udp|tcp)$")


class PasswordPolicy(BaseModel):
    """Password ageing and quality; unset fields keep the role's defaults.
    The bounds refuse what is a typo or no policy at all (a length under 8,
    a negative age), not a city's stricter choice."""

    model_config = ConfigDict(extra="forbid")
    max_days: int | None = Field(default=None, ge=1, le=3650)
    min_days: int | None = Field(default=None, ge=0, le=365)
    warn_age: int | None = Field(default=None, ge=0, le=365)
    min_length: int | None = Field(default=None, ge=8, le=128)
    min_classes: int | None = Field(default=None, ge=1, le=4)
    remember: int | None = Field(default=None, ge=0, le=400)


class LockoutPolicy(BaseModel):
    """faillock: failed logins before the lock, and seconds it lasts (0: until an admin)."""

    model_config = ConfigDict(extra="forbid")
    deny: int | None = Field(default=None, ge=1, le=100)
    unlock_time: int | None = Field(default=None, ge=0, le=7 * 86400)


class Policy(BaseModel):
    """The city's hardening choices (policy file); every field has a default."""

    model_config = ConfigDict(extra="forbid")
    user: str = Field(default="yunwang", pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    ssh_key: str | None = Field(default=None, max_length=4096)  # path of the private key
    become_password: SecretRef | None = None  # {env: NAME} or {file: PATH} only
    admins: dict[str, list[str]] = {
        "system": ["sysadmin"],
        "security": ["secadmin"],
        "audit": ["auditadmin"],
    }
    admin_keys: dict[str, SecretRef] = {}  # name -> {file: PATH} of a public key
    log_collector: Collector | None = None  # default: the management zone's first host
    ntp_servers: list[str] | None = Field(default=None, max_length=8)
    password: PasswordPolicy = PasswordPolicy()
    lockout: LockoutPolicy = LockoutPolicy()
    session_timeout: int | None = Field(default=None, ge=60, le=3600)


def load_policy(path: Path | None) -> Policy:
    if path is None:
        return Policy()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, *YAML_LOAD_ERRORS) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise InventoryError(f"{path}: not readable YAML ({first})") from None
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top)"
        raise InventoryError(f"{path}: {where}: {err['msg']}") from None


@dataclass(frozen=True)
class Target:
    """One host to harden and where it sits in the estate."""

    name: str
    address: str
    level: int
    zone: str | None
    tenant: str | None = None
    system: str | None = None
    node: str | None = None  # extranet node of a LAN host (gives the county)
    host_vars: dict[str, Any] = field(default_factory=dict)


@dataclass
class Targets:
    hosts: dict[str, Target]
    common: dict[str, Any]  # connection and policy vars for every host

    def select(self, names: Iterable[str]) -> list[str]:
        """Hosts named by --limit: a host, a system (code or tenant/system) or a tenant."""
        chosen: list[str] = []
        for name in names:
            found = [
                t.name
                for t in self.hosts.values()
                if name in (t.name, t.tenant, t.system, f"{t.tenant}/{t.system}")
            ]
            if not found:
                raise InventoryError(f"--limit {name}: no host, system or tenant of that name")
            chosen += [f for f in found if f not in chosen]
        return chosen

    def inventory(self) -> dict[str, Any]:
        hosts = {
            t.name: {
                "ansible_host": t.address,
                "mlps_level": t.level,
                "mlps_zone": t.zone or "",
                **t.host_vars,
            }
            for t in self.hosts.values()
        }
        return {"all": {"vars": dict(self.common), "hosts": hosts}}


def _sources(zone: Zone | None) -> list[str]:
    if zone is None:
        return [ANY4, ANY6]
    return [str(p) for p in (zone.prefix4, zone.prefix6) if p is not None]


def firewall_allows(
    estate: Estate, zone: str | None, translate: Callable[[str], str | None] = lambda p: p
) -> list[dict[str, Any]]:
    """The isolation matrix's rules into `zone`, as the role's mlps_firewall_allow."""
    if zone is None:
        return []
    zones = {z.name: z for z in estate.zones}
    allows = []
    for rule in estate.isolation:
        if rule.dst not in (zone, "*") or rule.src == zone:
            continue
        sources = [
            s
            for p in _sources(zones.get(rule.src) if rule.src != "*" else None)
            if (s := translate(p)) is not None
        ]
        if sources:
            allows += _services(rule, sources)
    return allows


def _services(rule: IsolationRule, sources: list[str]) -> list[dict[str, Any]]:
    out = []
    for service in rule.services:
        ports = ""
        if service.port_min is not None:
            high = service.port_max or service.port_min
            ports = (
                str(service.port_min) if high == service.port_min else f"{service.port_min}-{high}"
            )
        out.append(
            {
                "sources": sources,
                "proto": service.protocol,
                "ports": ports,
                "reason": f"{rule.src} -> {rule.dst}: {rule.reason}"[:100],
            }
        )
    return out


def management_host(estate: Estate) -> str | None:
    """The management zone's first host: the 安全管理中心 the others report to."""
    for system in estate.systems(zone=MANAGEMENT_ZONE):
        for host in system.hosts:
            return str(host.address4)
    return None


def policy_vars(policy: Policy, collector: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {"mlps_admins": {**Policy().admins, **policy.admins}}
    keys = {}
    for name, ref in policy.admin_keys.items():
        keys[name] = _secret(ref, f"admin_keys.{name}").strip()
    values["mlps_admin_keys"] = keys
    log = policy.log_collector or Collector(host=collector or "")
    values["mlps_log_collector"] = log.model_dump()
    ntp = (
        policy.ntp_servers if policy.ntp_servers is not None else ([collector] if collector else [])
    )
    values["mlps_ntp_servers"] = ntp
    for key, value in policy.password.model_dump(exclude_none=True).items():
        values[f"mlps_password_{key}"] = value
    for key, value in policy.lockout.model_dump(exclude_none=True).items():
        values[f"mlps_lockout_{key}"] = value
    if policy.session_timeout is not None:
        values["mlps_session_timeout"] = policy.session_timeout
    if policy.become_password is not None:
        values["ansible_become_password"] = _secret(policy.become_password, "become_password")
    return values


def _secret(ref: SecretRef, where: str) -> str:
    try:
        return ref.resolve()
    except SecretMissing as exc:
        raise InventoryError(f"policy {where}: {exc}") from None


def estate_targets(estate: Estate, policy: Policy) -> Targets:
    """Every host of every system in the estate, reached directly."""
    hosts: dict[str, Target] = {}
    for system in estate.systems():
        allows = firewall_allows(estate, system.zone)
        for host in system.hosts:
            hosts[host.name] = Target(
                host.name,
                str(host.address4),
                system.mlps_level,
                system.zone,
                system.tenant,
                system.code,
                host_vars={"mlps_firewall_allow": allows},
            )
    common: dict[str, Any] = {
        "ansible_user": policy.user,
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    if policy.ssh_key is not None:
        common["ansible_ssh_private_key_file"] = policy.ssh_key
    common.update(policy_vars(policy, management_host(estate)))
    return Targets(hosts, common)


def lab_targets(estate: Estate, lab: Any, policy: Policy) -> Targets:
    """The lab's hosts (a `lab.Lab`), with estate values moved into lab address space."""
    raw = lab.ansible_inventory()
    systems = {s.ref: s for s in estate.systems()}

    def translate(prefix: str) -> str | None:
        if prefix in (ANY4, ANY6):
            return prefix
        found: str | None = lab.lab_network_in_slice(prefix)  # None: zone not in the slice
        return found

    # The lab's NMS stands in for the management centre when the estate's
    # is outside the slice (it is where the lab's collectors run).
    collector: str | None = lab.plan.nms_address4.split("/")[0]
    if (estate_collector := management_host(estate)) is not None:
        collector = lab.lab_address_in_slice(estate_collector) or collector
    hosts: dict[str, Target] = {}
    for plan in lab.hosts:
        system = systems.get(plan.system or "")
        node = plan.segment.split(":", 1)[1] if plan.segment.startswith("lan:") else None
        hosts[plan.name] = Target(
            plan.name,
            raw["all"]["hosts"][plan.name]["ansible_host"],
            system.mlps_level if system else 3,
            plan.zone,
            system.tenant if system else None,
            system.code if system else None,
            node,
            # Lab hosts share this machine's kernel: audit and the clock stay untouched.
            host_vars={
                "mlps_firewall_allow": firewall_allows(estate, plan.zone, translate),
                "mlps_kernel_shared": True,
            },
        )
    common = dict(raw["all"]["vars"])
    common.update(policy_vars(policy, collector))
    return Targets(hosts, common)
