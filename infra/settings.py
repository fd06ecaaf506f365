"""What the program needs besides the estate, from the stack's Pulumi config.

Only the password is a secret, and it is only ever read with
`require_secret`: it stays an encrypted `secure:` value in the stack file
and a secret Output in the program, never plain text in a resource's inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

NAMESPACE = "yunwang"


@dataclass(frozen=True)
class CloudSettings:
    estate_file: str
    auth_url: str
    user_name: str
    user_domain: str
    admin_project: str
    password: pulumi.Output[str]  # a secret Output, never a str
    physical_network: str = "extranet"
    vlan_start: int = 1000
    replication_zone: str = "dr-replication"
    key_pair: str | None = None
    # Tenants that attach ports to extranet segments (e.g. the security team's
    # sensors). Departments reach the extranet routed, through the cloud's
    # extranet gateway, so by default no segment is shared with anyone.
    extranet_tenants: tuple[str, ...] = ()

    @classmethod
    def from_config(cls) -> CloudSettings:
        cfg = pulumi.Config(NAMESPACE)
        tenants = cfg.get_object("extranetTenants")
        return cls(
            estate_file=cfg.require("estate"),
            auth_url=cfg.require("authUrl"),
            user_name=cfg.get("userName") or "yunwang-deployer",
            user_domain=cfg.get("userDomain") or "Default",
            admin_project=cfg.get("adminProject") or "admin",
            password=cfg.require_secret("password"),
            physical_network=cfg.get("physicalNetwork") or "extranet",
            vlan_start=cfg.get_int("vlanStart") or 1000,
            replication_zone=cfg.get("replicationZone") or "dr-replication",
            key_pair=cfg.get("keyPair"),
            extranet_tenants=tuple(str(t) for t in tenants) if isinstance(tenants, list) else (),
        )


def admin_provider(
    settings: CloudSettings,
    region: str,
    name: str = "admin",
    opts: pulumi.ResourceOptions | None = None,
) -> openstack.Provider:
    """The deployer's provider for `region` (the main cloud's, or the DR centre's)."""
    return openstack.Provider(
        name,
        auth_url=settings.auth_url,
        user_name=settings.user_name,
        user_domain_name=settings.user_domain,
        project_domain_name=settings.user_domain,
        tenant_name=settings.admin_project,
        password=settings.password,
        region=region,
        opts=opts,
    )
