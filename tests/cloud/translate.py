"""Test harness: the Pulumi program's planned resources created in a real cloud, as planned.

This is NOT product code and nothing in yunwang imports it. The Pulumi CLI
and its OpenStack provider cannot run here, so the tests stand in for the
provider: each resource the program registers for an estate (captured under
Pulumi's mock runtime by `infra.planning`) is sent to the real Keystone or
Neutron API with exactly its inputs, kind by kind in dependency order, the
way the provider's resource does it (tags set after create, a group's
default rules deleted when `deleteDefaultRules` says so). Each object is
then read back, and every input the API refused or stored differently is a
`Defect` of the program, to be fixed in infra/.

Every region the plan names (the main cloud and the DR centre) is served by
the test cloud, each with its own Neutron and Cinder API. What it has no
service for (Nova; Cinder's volume service, without which a volume never
leaves `creating`) is listed as skipped, with the reason, never passed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from infra.planning import Plan, Planned
from tests.cloud.readback import same, stored_as

TYPE = "openstack:{}"
# Dependency order: every reference points to a kind earlier in the list.
ORDER = [
    "identity/role:Role",
    "identity/project:Project",
    "identity/groupV3:GroupV3",
    "identity/roleAssignment:RoleAssignment",
    "blockstorage/volumeTypeV3:VolumeTypeV3",
    "blockstorage/quoteSetV3:QuoteSetV3",
    "networking/quotaV2:QuotaV2",
    "networking/addressGroupV2:AddressGroupV2",
    "networking/qosPolicy:QosPolicy",
    "networking/qosBandwidthLimitRule:QosBandwidthLimitRule",
    "networking/secGroup:SecGroup",
    "networking/secGroupRule:SecGroupRule",
    "networking/network:Network",
    "networking/subnet:Subnet",
    "networking/router:Router",
    "networking/routerInterface:RouterInterface",
    "networking/rbacPolicyV2:RbacPolicyV2",
    "networking/port:Port",
]
NO_SERVICE = {
    "compute/quotaSetV2:QuotaSetV2": "Nova",
    "compute/instance:Instance": "Nova",
    "compute/volumeAttach:VolumeAttach": "Nova",
    "blockstorage/volume:Volume": "Cinder volume service",
}
# Provider-side switches, not API fields.
NOT_SENT = {"region", "tags", "deleteDefaultRules", "segments"}
RENAMED = {
    "securityGroupIds": "security_groups",
    "tenantId": "project_id",
    "isPublic": "os-volume-type-access:is_public",  # Cinder's name for it
}
# Neutron: (collection path, body key) per kind.
NEUTRON = {
    "networking/addressGroupV2:AddressGroupV2": ("/address-groups", "address_group"),
    "networking/qosPolicy:QosPolicy": ("/qos/policies", "policy"),
    "networking/secGroup:SecGroup": ("/security-groups", "security_group"),
    "networking/secGroupRule:SecGroupRule": ("/security-group-rules", "security_group_rule"),
    "networking/network:Network": ("/networks", "network"),
    "networking/subnet:Subnet": ("/subnets", "subnet"),
    "networking/router:Router": ("/routers", "router"),
    "networking/rbacPolicyV2:RbacPolicyV2": ("/rbac-policies", "rbac_policy"),
    "networking/port:Port": ("/ports", "port"),
}


# Kinds the bench creates in one POST per batch (`bulk=True`): ~2,000 single
# creates and read-backs of the full estate would take longer than the
# measurement. Nothing is read back in bulk mode: the
# `verify cloud` run that follows is the read-back.
BULK = {
    "networking/network:Network",
    "networking/subnet:Subnet",
    "networking/secGroupRule:SecGroupRule",
    "networking/port:Port",
}
BATCH = 100


@dataclass(frozen=True)
class Defect:
    """An input the real API refused, or stored as something else."""

    resource: str
    type: str
    problem: str

    def __str__(self) -> str:
        return f"{self.type} {self.resource}: {self.problem}"


@dataclass
class Outcome:
    created: dict[str, str] = field(default_factory=dict)  # plan id -> real id
    defects: list[Defect] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # plan id -> why
    kinds: dict[str, int] = field(default_factory=dict)  # kind -> created count


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


class Translator:
    """Creates a plan's resources through admin openstacksdk connections, one per region.

    `connect(region)` opens a connection; Keystone is global and is reached
    through the first region's.
    """

    def __init__(
        self, connect: Callable[[str], Any], plan: Plan, regions: Iterable[str], bulk: bool = False
    ) -> None:
        self.bulk = bulk
        self.conns = {region: connect(region) for region in regions}
        self.conn = next(iter(self.conns.values()))
        self.here = self.conn  # the connection of the region being created in
        self.plan = plan
        self.outcome = Outcome()
        self._providers = {r.urn: r for r in plan.of_type("pulumi:providers:openstack")}
        self._roles = {r["name"]: r["id"] for r in self._get(self.conn.identity, "/roles", "roles")}
        self._users = {u["name"]: u["id"] for u in self._get(self.conn.identity, "/users", "users")}
        self._projects = {
            p["name"]: p["id"] for p in self._get(self.conn.identity, "/projects", "projects")
        }

    # -- public ------------------------------------------------------------
    def run(self) -> Outcome:
        for kind, service in NO_SERVICE.items():
            for r in self.plan.of_type(TYPE.format(kind)):
                self.outcome.skipped[r.id] = f"no {service} in the test cloud"
        for kind in ORDER:
            if self.bulk and kind in BULK:
                self._bulk(kind)
                continue
            create = self._creator(kind)
            for r in self.plan.of_type(TYPE.format(kind)):
                region = self.region_of(r)
                if region not in self.conns:
                    self.outcome.skipped[r.id] = f"region {region} is not served by the test cloud"
                    continue
                self.here = self.conns[region]
                try:
                    real_id = create(r, self._body(r))
                except Refused as exc:
                    self.outcome.defects.append(Defect(r.name, kind, f"refused: {exc}"))
                    continue
                self.outcome.created[r.id] = real_id
                self.outcome.kinds[kind] = self.outcome.kinds.get(kind, 0) + 1
        for conn in self.conns.values():
            conn.close()
        return self.outcome

    def region_of(self, r: Planned) -> str:
        if "region" in r.inputs:
            return str(r.inputs["region"])
        provider = self._providers.get(r.provider.rsplit("::", 1)[0])
        return str(provider.inputs.get("region", "")) if provider else ""

    # -- inputs --------------------------------------------------------------
    def _resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            if value in self.outcome.created:
                return self.outcome.created[value]
            if value.startswith("getRole-"):
                return self._roles[value.removeprefix("getRole-")]
            if value.startswith("getUser-"):
                return self._users[value.removeprefix("getUser-")]
            if value.startswith("getProject-"):  # the admin's, the one project not planned
                return self._projects[value.removeprefix("getProject-")]
            return value
        if isinstance(value, list):
            return [self._resolve(v) for v in value]
        if isinstance(value, dict):
            return {snake(k): self._resolve(v) for k, v in value.items()}
        return value

    def _body(self, r: Planned) -> dict[str, Any]:
        body = {
            RENAMED.get(k, snake(k)): self._resolve(v)
            for k, v in r.inputs.items()
            if k not in NOT_SENT
        }
        provider = self._providers.get(r.provider.rsplit("::", 1)[0])
        tenant = provider.inputs.get("tenantId") if provider else None
        if tenant is not None and "project_id" not in body:
            # A tenant-scoped provider creates in its project; admin says so in the body.
            body["project_id"] = self._resolve(tenant)
        return body

    # -- kinds -----------------------------------------------------------------
    def _creator(self, kind: str) -> Callable[[Planned, dict[str, Any]], str]:
        special: dict[str, Callable[[Planned, dict[str, Any]], str]] = {
            "identity/role:Role": self._role,
            "identity/project:Project": self._project,
            "identity/groupV3:GroupV3": self._group,
            "identity/roleAssignment:RoleAssignment": self._assignment,
            "networking/quotaV2:QuotaV2": self._quota,
            "blockstorage/volumeTypeV3:VolumeTypeV3": self._volume_type,
            "blockstorage/quoteSetV3:QuoteSetV3": self._storage_quota,
            "networking/qosBandwidthLimitRule:QosBandwidthLimitRule": self._qos_rule,
            "networking/routerInterface:RouterInterface": self._interface,
        }
        if kind in special:
            return special[kind]
        path, key = NEUTRON[kind]
        return lambda r, body: self._neutron(r, path, key, body)

    def _role(self, r: Planned, body: dict[str, Any]) -> str:
        made = self._post(self.conn.identity, "/roles", "role", body)
        self._roles[made["name"]] = made["id"]
        return str(made["id"])

    def _project(self, r: Planned, body: dict[str, Any]) -> str:
        body = {**body, "tags": r.inputs.get("tags", []), "domain_id": "default"}
        made = self._post(self.conn.identity, "/projects", "project", body)
        self._compare(r, body, made)
        return str(made["id"])

    def _group(self, r: Planned, body: dict[str, Any]) -> str:
        made = self._post(self.conn.identity, "/groups", "group", body)
        self._compare(r, body, made)
        return str(made["id"])

    def _assignment(self, r: Planned, body: dict[str, Any]) -> str:
        actor = f"groups/{body['group_id']}" if "group_id" in body else f"users/{body['user_id']}"
        path = f"/projects/{body['project_id']}/{actor}/roles/{body['role_id']}"
        response = self.conn.identity.put(path)
        _check(response)
        if self.conn.identity.head(path).status_code != 204:
            self.outcome.defects.append(Defect(r.name, r.type, "assignment not found after PUT"))
        return path

    def _quota(self, r: Planned, body: dict[str, Any]) -> str:
        project = body.pop("project_id")
        response = self.here.network.put(f"/quotas/{project}", json={"quota": body})
        _check(response)
        stored = self.here.network.get(f"/quotas/{project}").json()["quota"]
        self._compare(r, body, stored)
        return f"quota/{project}"

    def _volume_type(self, r: Planned, body: dict[str, Any]) -> str:
        made = self._post(self.here.block_storage, "/types", "volume_type", body)
        stored = self.here.block_storage.get(f"/types/{made['id']}").json()["volume_type"]
        self._compare(r, body, stored)
        return str(made["id"])

    def _storage_quota(self, r: Planned, body: dict[str, Any]) -> str:
        project = body.pop("project_id")
        # Per-type limits are flat keys in Cinder (`volumes_TYPE`); the provider flattens them.
        body.update(body.pop("volume_type_quota", None) or {})
        path = f"/os-quota-sets/{project}"
        _check(self.here.block_storage.put(path, json={"quota_set": body}))
        stored = self.here.block_storage.get(path).json()["quota_set"]
        self._compare(r, body, stored)
        return f"storage-quota/{project}"

    def _qos_rule(self, r: Planned, body: dict[str, Any]) -> str:
        policy = body.pop("qos_policy_id")
        path = f"/qos/policies/{policy}/bandwidth_limit_rules"
        made = self._post(self.here.network, path, "bandwidth_limit_rule", body)
        self._compare(r, body, made)
        return str(made["id"])

    def _interface(self, r: Planned, body: dict[str, Any]) -> str:
        router = body.pop("router_id")
        response = self.here.network.put(f"/routers/{router}/add_router_interface", json=body)
        _check(response)
        return str(response.json()["port_id"])

    def _bulk(self, kind: str) -> None:
        """One POST per batch; Neutron takes a batch of rules for one group only,
        and tags only after create (one PUT each)."""
        path, key = NEUTRON[kind]
        batches: dict[tuple[str, str], list[Planned]] = {}
        for r in self.plan.of_type(TYPE.format(kind)):
            group = str(r.inputs.get("securityGroupId", ""))
            batches.setdefault((self.region_of(r), group), []).append(r)
        for (region, _group), resources in batches.items():
            if region not in self.conns:
                for r in resources:
                    self.outcome.skipped[r.id] = f"region {region} is not served by the test cloud"
                continue
            network = self.conns[region].network
            for start in range(0, len(resources), BATCH):
                batch = resources[start : start + BATCH]
                bodies = [_sent(r, self._body(r)) for r in batch]
                try:
                    response = network.post(path, json={f"{key}s": bodies})
                    _check(response)
                    for r, made in zip(batch, response.json()[f"{key}s"], strict=True):
                        self.outcome.created[r.id] = str(made["id"])
                        if r.inputs.get("tags"):
                            tags = {"tags": r.inputs["tags"]}
                            _check(network.put(f"{path}/{made['id']}/tags", json=tags))
                except Refused as exc:
                    self.outcome.defects += [Defect(r.name, kind, f"refused: {exc}") for r in batch]
                    continue
                self.outcome.kinds[kind] = self.outcome.kinds.get(kind, 0) + len(batch)

    def _neutron(self, r: Planned, path: str, key: str, body: dict[str, Any]) -> str:
        sent = _sent(r, body)
        segments = r.inputs.get("segments")
        made = self._post(self.here.network, path, key, sent)
        if r.inputs.get("deleteDefaultRules"):
            for rule in made.get("security_group_rules", []):
                _check(self.here.network.delete(f"/security-group-rules/{rule['id']}"))
        tags = r.inputs.get("tags")
        if tags:
            collection = path.strip("/")
            _check(self.here.network.put(f"/{collection}/{made['id']}/tags", json={"tags": tags}))
            body = {**body, "tags": tags}
        stored = self.here.network.get(f"{path}/{made['id']}").json()[key]
        if segments:
            body = {**body, "segments": segments}
        self._compare(r, body, stored)
        return str(made["id"])

    # -- REST --------------------------------------------------------------------
    def _post(self, proxy: Any, path: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
        response = proxy.post(path, json={key: body})
        _check(response)
        return dict(response.json()[key])

    @staticmethod
    def _get(proxy: Any, path: str, key: str) -> list[dict[str, Any]]:
        response = proxy.get(path)
        _check(response)
        return list(response.json()[key])

    def _compare(self, r: Planned, sent: dict[str, Any], stored: dict[str, Any]) -> None:
        for name, value in sent.items():
            if name == "project_id" and r.type.endswith(("QuotaV2", "Project")):
                continue
            got = stored_as(name, value, stored)
            if not same(value, got):
                self.outcome.defects.append(
                    Defect(r.name, r.type, f"{name}: sent {value!r}, stored {got!r}")
                )


class Refused(Exception):
    pass


def _sent(r: Planned, body: dict[str, Any]) -> dict[str, Any]:
    """A network's segments as Neutron's multi-provider extension spells them."""
    segments = r.inputs.get("segments")
    if not segments:
        return dict(body)
    return {
        **body,
        "segments": [{f"provider:{snake(k)}": v for k, v in seg.items()} for seg in segments],
    }


def _check(response: Any) -> None:
    if response.status_code >= 400:
        raise Refused(f"HTTP {response.status_code}: {response.text[:300]}")
