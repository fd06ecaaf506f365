"""A department's tenant: project, the separation of duties, quotas, a scoped provider.

MLPS 2.0 level 3 asks for 三员分立: the system administrator, the security
administrator and the audit administrator are different people. Each duty
is a Keystone group holding exactly one role on the project, so granting a
person two duties means adding them to two groups, which the audit sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from estate.model import Tenant as TenantSpec
from infra.settings import CloudSettings

# duty -> Keystone role. The three admin roles are ours (their powers come
# from the cloud's policy files); member and reader are Keystone's defaults.
DUTY_ROLES: dict[str, str] = {
    "system-admin": "yunwang-system-admin",  # 系统管理员
    "security-admin": "yunwang-security-admin",  # 安全管理员
    "audit-admin": "yunwang-audit-admin",  # 审计管理员
    "member": "member",
    "reader": "reader",
}
ADMIN_DUTIES = ("system-admin", "security-admin", "audit-admin")
# The automation account needs a role on the project to scope its token to it.
DEPLOYER_ROLE = "member"

# Nova fields the estate does not model: set explicitly because the provider
# zeroes every field left out. Values are Nova's own defaults.
NOVA_INJECTED_FILES = 5
NOVA_INJECTED_FILE_CONTENT_BYTES = 10_240
NOVA_INJECTED_FILE_PATH_BYTES = 255


@dataclass(frozen=True)
class CityIdentity:
    """Identity objects every tenant uses: role ids by name and the deployer's user id."""

    roles: Mapping[str, pulumi.Input[str]]
    deployer_id: pulumi.Input[str]


class Tenant(pulumi.ComponentResource):
    project: openstack.identity.Project
    provider: openstack.Provider
    groups: dict[str, openstack.identity.GroupV3]

    def __init__(
        self,
        spec: TenantSpec,
        identity: CityIdentity,
        settings: CloudSettings,
        region: str,
        admin: openstack.Provider,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("yunwang:infra:Tenant", spec.code, None, opts)
        code = spec.code
        child = pulumi.ResourceOptions(parent=self, provider=admin)
        self.project = openstack.identity.Project(
            f"{code}-project",
            name=code,
            description=spec.name,
            enabled=True,
            tags=["yunwang", f"tenant:{code}"],
            opts=child,
        )
        self.groups = {}
        for duty, role in DUTY_ROLES.items():
            group = openstack.identity.GroupV3(
                f"{code}-{duty}",
                name=f"{code}-{duty}",
                description=f"{spec.name}: {duty}",
                opts=child,
            )
            openstack.identity.RoleAssignment(
                f"{code}-{duty}-role",
                group_id=group.id,
                project_id=self.project.id,
                role_id=identity.roles[role],
                opts=child,
            )
            self.groups[duty] = group
        openstack.identity.RoleAssignment(
            f"{code}-deployer-role",
            user_id=identity.deployer_id,
            project_id=self.project.id,
            role_id=identity.roles[DEPLOYER_ROLE],
            opts=child,
        )
        self.quotas = self._quotas(spec, region, child)
        self.provider = openstack.Provider(
            f"{code}-provider",
            auth_url=settings.auth_url,
            user_name=settings.user_name,
            user_domain_name=settings.user_domain,
            project_domain_name=settings.user_domain,
            password=settings.password,
            tenant_id=self.project.id,
            region=region,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {
                "project_id": self.project.id,
                "groups": {duty: g.id for duty, g in self.groups.items()},
            }
        )

    def _quotas(
        self, spec: TenantSpec, region: str, child: pulumi.ResourceOptions
    ) -> tuple[
        openstack.compute.QuotaSetV2,
        openstack.networking.QuotaV2,
        openstack.blockstorage.QuoteSetV3,
    ]:
        code, q = spec.code, spec.quotas
        compute = openstack.compute.QuotaSetV2(
            f"{code}-compute-quota",
            project_id=self.project.id,
            region=region,
            instances=q.compute.instances,
            cores=q.compute.cores,
            ram=q.compute.ram_mb,
            key_pairs=q.compute.key_pairs,
            server_groups=q.compute.server_groups,
            server_group_members=q.compute.server_group_members,
            metadata_items=q.compute.metadata_items,
            # Nova's network fields are deprecated but zeroed if left out.
            fixed_ips=q.network.ports,
            floating_ips=q.network.floating_ips,
            security_groups=q.network.security_groups,
            security_group_rules=q.network.security_group_rules,
            injected_files=NOVA_INJECTED_FILES,
            injected_file_content_bytes=NOVA_INJECTED_FILE_CONTENT_BYTES,
            injected_file_path_bytes=NOVA_INJECTED_FILE_PATH_BYTES,
            opts=child,
        )
        own = program_networking(spec)
        network = openstack.networking.QuotaV2(
            f"{code}-network-quota",
            project_id=self.project.id,
            region=region,
            network=max(q.network.networks, own.networks),
            subnet=max(q.network.subnets, own.subnets),
            port=max(q.network.ports, own.ports),
            router=max(q.network.routers, own.routers),
            floatingip=q.network.floating_ips,
            security_group=q.network.security_groups,
            security_group_rule=q.network.security_group_rules,
            rbac_policy=q.network.rbac_policies,
            subnetpool=0,  # the address plan is central: tenants make no subnet pools
            opts=child,
        )
        storage = storage_quota(f"{code}-storage-quota", spec, self.project.id, region, child)
        return compute, network, storage


@dataclass(frozen=True)
class OwnNetworking:
    networks: int
    subnets: int
    routers: int
    ports: int


def program_networking(spec: TenantSpec) -> OwnNetworking:
    """What the program itself puts in a tenant's project, per zone the tenant has systems in.

    Neutron counts these against the project's quota like anything the
    department adds, and refuses the one too many (a real Neutron refused
    the third zone router of a tenant with the default quota of 2). The
    quota is therefore never below what the plan needs: a network, two
    subnets, a router and its two interface ports per zone, a port per host.
    """
    zones = len({s.zone for s in spec.systems})
    hosts = sum(len(s.hosts) for s in spec.systems)
    return OwnNetworking(networks=zones, subnets=2 * zones, routers=zones, ports=hosts + 2 * zones)


def storage_quota(
    name: str,
    spec: TenantSpec,
    project_id: pulumi.Input[str],
    region: str,
    opts: pulumi.ResourceOptions,
) -> openstack.blockstorage.QuoteSetV3:
    s = spec.quotas.storage
    return openstack.blockstorage.QuoteSetV3(
        name,
        project_id=project_id,
        region=region,
        volumes=s.volumes,
        gigabytes=s.gigabytes,
        snapshots=s.snapshots,
        per_volume_gigabytes=s.per_volume_gigabytes,
        backups=s.backups,
        backup_gigabytes=s.backup_gigabytes,
        groups=s.groups,
        volume_type_quota={},  # no per-type limits: the totals above bind
        opts=opts,
    )
