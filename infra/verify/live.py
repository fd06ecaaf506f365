"""What the cloud holds, from the rows `reader` fetched, in the shape of `state.Obj`."""

from __future__ import annotations

from typing import Any

from infra.verify.desired import QUOTA_FIELDS, STORAGE_QUOTA_FIELDS
from infra.verify.reader import Live, Rows
from infra.verify.state import (
    Obj,
    State,
    add,
    fixed_ip,
    norm_address,
    norm_prefix,
    remote_prefix,
    rule_key,
    sorted_strs,
)

# Ports Neutron makes for itself (router interfaces, DHCP, gateways) carry a
# `network:*` owner; a host's port has none or `compute:*`.
CLOUD_PORT_OWNER = "network:"
ROUTER_INTERFACE = "network:router_interface"


def _names(rows: Rows) -> dict[str, str]:
    return {str(r["id"]): str(r.get("name", r["id"])) for r in rows}


def _tenant(tags: list[str]) -> str | None:
    return next((t.removeprefix("tenant:") for t in tags if t.startswith("tenant:")), None)


def _zone(name: str) -> str | None:
    return name.removeprefix("zone-") if name.startswith("zone-") else None


def identity_state(identity: dict[str, Rows]) -> tuple[State, dict[str, str]]:
    """Keystone's objects, and project names by id (Neutron rows name projects by id)."""
    state: State = {}
    projects = _names(identity["projects"])
    groups, roles, users = (_names(identity[k]) for k in ("groups", "roles", "users"))
    for p in identity["projects"]:
        if p.get("is_domain"):
            continue
        fields = {
            "description": p.get("description") or "",
            "enabled": p.get("enabled", True),
            "tags": sorted_strs(p.get("tags")),
        }
        add(state, Obj("project", str(p["name"]), fields, tenant=str(p["name"])))
    for g in identity["groups"]:
        add(state, Obj("group", str(g["name"]), {"description": g.get("description") or ""}))
    for a in identity["role_assignments"]:
        project_id = a.get("scope", {}).get("project", {}).get("id")
        if project_id is None:
            continue  # system and domain scopes are the cloud's own, not a tenant's
        if "group" in a:
            actor = f"group:{groups.get(a['group']['id'], a['group']['id'])}"
        else:
            actor = f"user:{users.get(a['user']['id'], a['user']['id'])}"
        project = projects.get(project_id, project_id)
        key = f"{actor} {roles.get(a['role']['id'], a['role']['id'])} on {project}"
        add(state, Obj("role_assignment", key, tenant=project))
    return state, projects


def region_state(live: Live, projects: dict[str, str]) -> State:
    n = live.network
    state: State = {}

    def project(row: dict[str, Any]) -> str:
        pid = str(row.get("project_id") or row.get("tenant_id") or "")
        return projects.get(pid, pid)

    quotas = {str(q.get("project_id") or q.get("tenant_id")): q for q in n["quotas"]}
    for pid, name in projects.items():
        values = quotas.get(pid, live.default_quota)
        fields = {f: values[f] for f in QUOTA_FIELDS if f in values}
        add(state, Obj("network_quota", name, fields, tenant=name))
    address_groups = _names(n["address_groups"])
    for ag in n["address_groups"]:
        fields = {
            "description": ag.get("description") or "",
            "addresses": sorted(norm_prefix(a) for a in ag.get("addresses", [])),
        }
        add(state, Obj("address_group", str(ag["name"]), fields))
    policies = _names(n["qos_policies"])
    for qp in n["qos_policies"]:
        add(state, Obj("qos_policy", str(qp["name"]), {"description": qp.get("description") or ""}))
        for rule in qp.get("rules", []):
            if rule.get("type") != "bandwidth_limit":
                add(state, Obj("qos_rule", f"{qp['name']} {rule.get('type')}", {}))
                continue
            fields = {
                "max_kbps": rule.get("max_kbps"),
                "max_burst_kbps": rule.get("max_burst_kbps"),
            }
            add(state, Obj("qos_rule", f"{qp['name']} {rule.get('direction', 'egress')}", fields))
    groups = {str(g["id"]): g for g in n["security_groups"]}
    for g in n["security_groups"]:
        fields = {"description": g.get("description") or "", "stateful": g.get("stateful", True)}
        add(
            state,
            Obj(
                "security_group",
                f"{project(g)}/{g['name']}",
                fields,
                tenant=project(g),
                zone=_zone(str(g["name"])),
            ),
        )
    for rule in n["security_group_rules"]:
        group = groups.get(str(rule["security_group_id"]))
        if group is None:
            continue
        ethertype = str(rule.get("ethertype", "IPv4"))
        if rule.get("remote_address_group_id"):
            remote = f"ag:{address_groups.get(rule['remote_address_group_id'], rule['remote_address_group_id'])}"
        elif rule.get("remote_group_id"):
            other = groups.get(str(rule["remote_group_id"]))
            remote = f"sg:{other['name'] if other else rule['remote_group_id']}"
        else:
            remote = remote_prefix(rule.get("remote_ip_prefix"), ethertype)
        key = rule_key(
            project(group),
            str(group["name"]),
            str(rule["direction"]),
            ethertype,
            rule.get("protocol"),
            rule.get("port_range_min"),
            rule.get("port_range_max"),
            remote,
        )
        add(
            state,
            Obj("security_group_rule", key, tenant=project(group), zone=_zone(str(group["name"]))),
        )
    networks = _names(n["networks"])
    segments: dict[str, list[str]] = {}
    for s in n["segments"]:
        segments.setdefault(str(s["network_id"]), []).append(
            f"{s.get('network_type')}:{s.get('physical_network')}:{s.get('segmentation_id')}"
        )
    for net in n["networks"]:
        tags = sorted_strs(net.get("tags"))
        fields = {
            "project": project(net),
            "admin_state_up": net.get("admin_state_up", True),
            "shared": net.get("shared", False),
            "tags": tags,
            "qos_policy": policies.get(net.get("qos_policy_id") or "", None),
            "port_security_enabled": net.get("port_security_enabled", True),
            "description": net.get("description") or "",
            "segments": sorted(segments.get(str(net["id"]), [])),
        }
        add(state, Obj("network", str(net["name"]), fields, tenant=_tenant(tags)))
    subnets = _names(n["subnets"])
    for sub in n["subnets"]:
        tags = sorted_strs(sub.get("tags"))
        fields = {
            "project": project(sub),
            "network": networks.get(str(sub["network_id"]), sub["network_id"]),
            "ip_version": sub.get("ip_version"),
            "cidr": norm_prefix(str(sub["cidr"])),
            "enable_dhcp": sub.get("enable_dhcp"),
            "tags": tags,
            "gateway_ip": norm_address(sub.get("gateway_ip")),
            "ipv6_ra_mode": sub.get("ipv6_ra_mode"),
            "ipv6_address_mode": sub.get("ipv6_address_mode"),
        }
        add(state, Obj("subnet", str(sub["name"]), fields, tenant=_tenant(tags)))
    interfaces: dict[str, list[str]] = {}
    for port in n["ports"]:
        if not str(port.get("device_owner") or "").startswith(ROUTER_INTERFACE):
            continue
        for ip in port.get("fixed_ips", []):
            interfaces.setdefault(str(port["device_id"]), []).append(
                subnets.get(str(ip["subnet_id"]), str(ip["subnet_id"]))
            )
    for router in n["routers"]:
        tags = sorted_strs(router.get("tags"))
        fields = {
            "project": project(router),
            "admin_state_up": router.get("admin_state_up", True),
            "tags": tags,
            "interfaces": sorted(interfaces.get(str(router["id"]), [])),
        }
        add(state, Obj("router", str(router["name"]), fields, tenant=_tenant(tags)))
    _ports(state, n["ports"], networks, subnets, project, _names(n["security_groups"]))
    _block_storage(state, live, projects)
    objects = {
        "network": networks,
        "security_group": _names(n["security_groups"]),
        "qos_policy": policies,
        "address_group": address_groups,
    }
    for rbac in n["rbac_policies"]:
        kind = str(rbac["object_type"])
        name = objects.get(kind, {}).get(str(rbac["object_id"]), str(rbac["object_id"]))
        target = str(rbac.get("target_tenant") or rbac.get("target_project") or "")
        target = projects.get(target, target)
        key = f"{kind} {name} {rbac['action']} {target}"
        add(state, Obj("rbac_policy", key, tenant=target))
    return state


def _ports(
    state: State,
    rows: Rows,
    networks: dict[str, str],
    subnets: dict[str, str],
    project: Any,
    groups: dict[str, str],
) -> None:
    for port in rows:
        if str(port.get("device_owner") or "").startswith(CLOUD_PORT_OWNER):
            continue
        tags = sorted_strs(port.get("tags"))
        fields = {
            "project": project(port),
            "network": networks.get(str(port["network_id"]), port["network_id"]),
            "admin_state_up": port.get("admin_state_up", True),
            "port_security_enabled": port.get("port_security_enabled", True),
            "security_groups": sorted(groups.get(g, g) for g in port.get("security_groups", [])),
            "fixed_ips": sorted(
                fixed_ip(subnets.get(str(ip["subnet_id"]), str(ip["subnet_id"])), ip["ip_address"])
                for ip in port.get("fixed_ips", [])
            ),
            "allowed_address_pairs": sorted(
                norm_prefix(str(p["ip_address"])) for p in port.get("allowed_address_pairs", [])
            ),
            "tags": tags,
        }
        name = str(port.get("name") or port["id"])  # an unnamed port is known by its id
        add(state, Obj("port", name, fields, tenant=_tenant(tags)))


def _block_storage(state: State, live: Live, projects: dict[str, str]) -> None:
    for vt in live.volume_types:
        fields = {
            "description": vt.get("description") or "",
            "is_public": vt.get("os-volume-type-access:is_public", vt.get("is_public", True)),
            "extra_specs": dict(vt.get("extra_specs") or {}),
        }
        add(state, Obj("volume_type", str(vt["name"]), fields))
    for pid, quota in live.storage_quotas.items():
        name = projects.get(pid, pid)
        fields = {f: quota[f] for f in STORAGE_QUOTA_FIELDS if f in quota}
        add(state, Obj("storage_quota", name, fields, tenant=name))
