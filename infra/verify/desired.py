"""What the cloud should hold: the program's own plan, turned into comparable objects.

The plan is the one `yunwang plan` prints (`infra.planning`, the program
under Pulumi's mock runtime), so verification and deployment cannot
disagree about what the estate implies. References between resources (a
rule's group, a subnet's network) arrive as the plan's placeholder ids and
are turned into the referenced object's name.
"""

from __future__ import annotations

from typing import Any

from infra.planning import Plan, Planned
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

T = "openstack:{}"
QUOTA_FIELDS = (
    "network",
    "subnet",
    "port",
    "router",
    "floatingip",
    "security_group",
    "security_group_rule",
    "rbac_policy",
    "subnetpool",
)
STORAGE_QUOTA_FIELDS = (
    "volumes",
    "gigabytes",
    "snapshots",
    "per_volume_gigabytes",
    "backups",
    "backup_gigabytes",
    "groups",
)


def _camel(field: str) -> str:
    return "".join(p.title() if i else p for i, p in enumerate(field.split("_")))


class Desired:
    """The plan of one estate, readable by reference and by region."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.by_id = plan.by_id()
        self.providers = {r.urn: r for r in plan.of_type("pulumi:providers:openstack")}
        admin = next((p for p in self.providers.values() if p.name == "admin"), None)
        self.admin_project = str(admin.inputs.get("tenantName", "admin")) if admin else "admin"
        self.regions = sorted({self.region_of(r) for r in plan.resources if r.custom} - {""})

    # -- lookups -----------------------------------------------------------
    def name(self, ref: Any) -> str:
        """The API name of the object a placeholder id (or an invoke result) stands for."""
        text = str(ref)
        for prefix in ("getRole-", "getUser-", "getProject-"):
            if text.startswith(prefix):
                return text.removeprefix(prefix)
        target = self.by_id.get(text)
        return str(target.inputs.get("name", target.name)) if target else text

    def region_of(self, r: Planned) -> str:
        if "region" in r.inputs:
            return str(r.inputs["region"])
        provider = self.providers.get(r.provider.rsplit("::", 1)[0])
        return str(provider.inputs.get("region", "")) if provider else ""

    def project_of(self, r: Planned) -> str:
        if "tenantId" in r.inputs:
            return self.name(r.inputs["tenantId"])
        provider = self.providers.get(r.provider.rsplit("::", 1)[0])
        if provider is not None and "tenantId" in provider.inputs:
            return self.name(provider.inputs["tenantId"])
        return self.admin_project

    def of(self, kind: str, region: str | None = None) -> list[Planned]:
        found = self.plan.of_type(T.format(kind))
        return [r for r in found if region is None or self.region_of(r) == region]

    # -- state -------------------------------------------------------------
    def identity(self) -> State:
        state: State = {}
        for r in self.of("identity/project:Project"):
            i = r.inputs
            fields = {
                "description": i.get("description", ""),
                "enabled": i.get("enabled", True),
                "tags": sorted_strs(i.get("tags")),
            }
            add(state, Obj("project", str(i["name"]), fields, tenant=str(i["name"])))
        for r in self.of("identity/groupV3:GroupV3"):
            fields = {"description": r.inputs.get("description", "")}
            add(state, Obj("group", str(r.inputs["name"]), fields))
        for r in self.of("identity/roleAssignment:RoleAssignment"):
            i = r.inputs
            actor = (
                f"group:{self.name(i['groupId'])}"
                if "groupId" in i
                else f"user:{self.name(i['userId'])}"
            )
            project = self.name(i["projectId"])
            key = f"{actor} {self.name(i['roleId'])} on {project}"
            add(state, Obj("role_assignment", key, tenant=project))
        return state

    def network(self, region: str) -> State:
        state: State = {}
        for r in self.of("networking/quotaV2:QuotaV2", region):
            project = self.name(r.inputs["projectId"])
            fields = {f: r.inputs[_camel(f)] for f in QUOTA_FIELDS if _camel(f) in r.inputs}
            add(state, Obj("network_quota", project, fields, tenant=project))
        for r in self.of("blockstorage/quoteSetV3:QuoteSetV3", region):
            project = self.name(r.inputs["projectId"])
            fields = {f: r.inputs[_camel(f)] for f in STORAGE_QUOTA_FIELDS if _camel(f) in r.inputs}
            add(state, Obj("storage_quota", project, fields, tenant=project))
        for r in self.of("blockstorage/volumeTypeV3:VolumeTypeV3", region):
            fields = {
                "description": r.inputs.get("description", ""),
                "is_public": r.inputs.get("isPublic", True),
                "extra_specs": dict(r.inputs.get("extraSpecs", {})),
            }
            add(state, Obj("volume_type", str(r.inputs["name"]), fields))
        for r in self.of("networking/addressGroupV2:AddressGroupV2", region):
            fields = {
                "description": r.inputs.get("description", ""),
                "addresses": sorted(norm_prefix(a) for a in r.inputs.get("addresses", [])),
            }
            add(state, Obj("address_group", str(r.inputs["name"]), fields))
        for r in self.of("networking/qosPolicy:QosPolicy", region):
            add(
                state,
                Obj(
                    "qos_policy",
                    str(r.inputs["name"]),
                    {"description": r.inputs.get("description", "")},
                ),
            )
        for r in self.of("networking/qosBandwidthLimitRule:QosBandwidthLimitRule", region):
            i = r.inputs
            key = f"{self.name(i['qosPolicyId'])} {i.get('direction', 'egress')}"
            fields = {"max_kbps": i.get("maxKbps"), "max_burst_kbps": i.get("maxBurstKbps", 0)}
            add(state, Obj("qos_rule", key, fields))
        for r in self.of("networking/secGroup:SecGroup", region):
            project = self.project_of(r)
            fields = {
                "description": r.inputs.get("description", ""),
                "stateful": r.inputs.get("stateful", True),
            }
            add(
                state,
                Obj(
                    "security_group",
                    f"{project}/{r.inputs['name']}",
                    fields,
                    zone=_zone(str(r.inputs["name"])),
                ),
            )
        for r in self.of("networking/secGroupRule:SecGroupRule", region):
            self._rule(state, r)
        for r in self.of("networking/network:Network", region):
            self._network(state, r)
        for r in self.of("networking/subnet:Subnet", region):
            self._subnet(state, r)
        self._routers(state, region)
        for r in self.of("networking/port:Port", region):
            self._port(state, r)
        for r in self.of("networking/rbacPolicyV2:RbacPolicyV2", region):
            i = r.inputs
            target = self.name(i["targetTenant"])
            key = f"{i['objectType']} {self.name(i['objectId'])} {i['action']} {target}"
            add(state, Obj("rbac_policy", key, tenant=target))
        return state

    def _rule(self, state: State, r: Planned) -> None:
        i = r.inputs
        group = self.by_id[str(i["securityGroupId"])]
        ethertype = str(i.get("ethertype", "IPv4"))
        if "remoteAddressGroupId" in i:
            remote = f"ag:{self.name(i['remoteAddressGroupId'])}"
        elif "remoteGroupId" in i:
            remote = f"sg:{self.name(i['remoteGroupId'])}"
        else:
            remote = remote_prefix(i.get("remoteIpPrefix"), ethertype)
        group_name = str(group.inputs["name"])
        key = rule_key(
            self.project_of(group),
            group_name,
            str(i["direction"]),
            ethertype,
            i.get("protocol"),
            i.get("portRangeMin"),
            i.get("portRangeMax"),
            remote,
        )
        add(state, Obj("security_group_rule", key, zone=_zone(group_name)))

    def _network(self, state: State, r: Planned) -> None:
        i = r.inputs
        fields: dict[str, Any] = {
            "project": self.project_of(r),
            "admin_state_up": i.get("adminStateUp", True),
            "shared": i.get("shared", False),
            "tags": sorted_strs(i.get("tags")),
            "qos_policy": self.name(i["qosPolicyId"]) if "qosPolicyId" in i else None,
        }
        if "portSecurityEnabled" in i:
            fields["port_security_enabled"] = i["portSecurityEnabled"]
        if "description" in i:
            fields["description"] = i["description"]
        if "segments" in i:
            fields["segments"] = sorted(
                f"{s.get('networkType')}:{s.get('physicalNetwork')}:{s.get('segmentationId')}"
                for s in i["segments"]
            )
        add(state, Obj("network", str(i["name"]), fields, tenant=_tenant(fields["tags"])))

    def _subnet(self, state: State, r: Planned) -> None:
        i = r.inputs
        fields: dict[str, Any] = {
            "project": self.project_of(r),
            "network": self.name(i["networkId"]),
            "ip_version": i.get("ipVersion", 4),
            "cidr": norm_prefix(str(i["cidr"])),
            "enable_dhcp": i.get("enableDhcp", True),
            "tags": sorted_strs(i.get("tags")),
        }
        for name, key in (
            ("gateway_ip", "gatewayIp"),
            ("ipv6_ra_mode", "ipv6RaMode"),
            ("ipv6_address_mode", "ipv6AddressMode"),
        ):
            if key in i:
                fields[name] = norm_address(i[key])
        add(state, Obj("subnet", str(i["name"]), fields, tenant=_tenant(fields["tags"])))

    def _routers(self, state: State, region: str) -> None:
        interfaces: dict[str, list[str]] = {}
        for r in self.of("networking/routerInterface:RouterInterface", region):
            router = self.name(r.inputs["routerId"])
            interfaces.setdefault(router, []).append(self.name(r.inputs["subnetId"]))
        for r in self.of("networking/router:Router", region):
            name = str(r.inputs["name"])
            fields = {
                "project": self.project_of(r),
                "admin_state_up": r.inputs.get("adminStateUp", True),
                "tags": sorted_strs(r.inputs.get("tags")),
                "interfaces": sorted(interfaces.get(name, [])),
            }
            add(state, Obj("router", name, fields, tenant=_tenant(fields["tags"])))

    def _port(self, state: State, r: Planned) -> None:
        i = r.inputs
        tags = sorted_strs(i.get("tags"))
        fields: dict[str, Any] = {
            "project": self.project_of(r),
            "network": self.name(i["networkId"]),
            "admin_state_up": i.get("adminStateUp", True),
            "port_security_enabled": i.get("portSecurityEnabled", True),
            "security_groups": sorted(self.name(g) for g in i.get("securityGroupIds", [])),
            "fixed_ips": sorted(
                fixed_ip(self.name(ip["subnetId"]), ip.get("ipAddress"))
                for ip in i.get("fixedIps", [])
            ),
            "allowed_address_pairs": sorted(
                norm_prefix(str(p["ipAddress"])) for p in i.get("allowedAddressPairs", [])
            ),
            "tags": tags,
        }
        add(state, Obj("port", str(i["name"]), fields, tenant=_tenant(tags)))


def _zone(group_name: str) -> str | None:
    return group_name.removeprefix("zone-") if group_name.startswith("zone-") else None


def _tenant(tags: list[str]) -> str | None:
    return next((t.removeprefix("tenant:") for t in tags if t.startswith("tenant:")), None)
