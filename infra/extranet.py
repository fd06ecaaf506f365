"""Extranet segments: a provider VLAN per county and township attachment, at its owed bandwidth.

Bandwidth is a property of the level (千兆到县、百兆到乡镇), so there is one
QoS policy per level, shared by every segment of that level: a township costs
its network, its two subnets and its RBAC shares, not a policy of its own.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_openstack as openstack

from estate.model import Node

# TCP needs a burst to reach the rate; 80 % of the rate is the usual figure.
BURST_RATIO = 0.8
SEGMENT_LEVELS = ("county", "township")


class ExtranetQos(pulumi.ComponentResource):
    """The QoS policy of one level: the same limit egress and ingress."""

    policy: openstack.networking.QosPolicy

    def __init__(
        self,
        level: str,
        owed_bps: int,
        region: str,
        admin: openstack.Provider,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("yunwang:infra:ExtranetQos", f"extranet-{level}", None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=admin)
        kbps = owed_bps // 1000
        self.policy = openstack.networking.QosPolicy(
            f"extranet-{level}-qos",
            name=f"extranet-{level}",
            description=f"owed bandwidth of a {level} link: {owed_bps} bit/s",
            region=region,
            opts=child,
        )
        self.rules: list[openstack.networking.QosBandwidthLimitRule] = []
        for direction in ("egress", "ingress"):
            rule = openstack.networking.QosBandwidthLimitRule(
                f"extranet-{level}-qos-{direction}",
                qos_policy_id=self.policy.id,
                direction=direction,
                max_kbps=kbps,
                max_burst_kbps=int(kbps * BURST_RATIO),
                region=region,
                opts=child,
            )
            self.rules.append(rule)
        self.register_outputs({"policy_id": self.policy.id, "max_kbps": kbps})


class ExtranetSegment(pulumi.ComponentResource):
    """One county's or township's attachment to the cloud, shared to the tenants that serve it."""

    network: openstack.networking.Network

    def __init__(
        self,
        node: Node,
        vlan: int,
        physical_network: str,
        qos: ExtranetQos,
        shared_with: Mapping[str, pulumi.Input[str]],
        region: str,
        admin: openstack.Provider,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        name = f"extranet-{node.id}"
        super().__init__("yunwang:infra:ExtranetSegment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=admin)
        tags = ["yunwang", f"level:{node.level}", f"node:{node.id}"]
        if node.county:
            tags.append(f"county:{node.county}")
        self.network = openstack.networking.Network(
            f"{name}-net",
            name=name,
            description=node.name,
            segments=[
                openstack.networking.NetworkSegmentArgs(
                    network_type="vlan",
                    physical_network=physical_network,
                    segmentation_id=vlan,
                )
            ],
            qos_policy_id=qos.policy.id,
            shared=False,  # shared per tenant below, never to everyone
            admin_state_up=True,
            tags=tags,
            region=region,
            opts=child,
        )
        # The node's own router answers on these LANs; the cloud hands out nothing.
        openstack.networking.Subnet(
            f"{name}-v4",
            name=f"{name}-v4",
            network_id=self.network.id,
            ip_version=4,
            cidr=str(node.lan4),
            gateway_ip=str(node.gateway4),
            enable_dhcp=False,
            tags=tags,
            region=region,
            opts=child,
        )
        openstack.networking.Subnet(
            f"{name}-v6",
            name=f"{name}-v6",
            network_id=self.network.id,
            ip_version=6,
            cidr=str(node.lan6),
            gateway_ip=str(node.gateway6),
            enable_dhcp=True,  # Neutron wants it for an address mode; RAs come from the node
            ipv6_address_mode="slaac",
            tags=tags,
            region=region,
            opts=child,
        )
        self.shares: list[openstack.networking.RbacPolicyV2] = []
        for tenant, project_id in shared_with.items():
            share = openstack.networking.RbacPolicyV2(
                f"{name}-share-{tenant}",
                object_type="network",
                object_id=self.network.id,
                action="access_as_shared",
                target_tenant=project_id,
                region=region,
                opts=child,
            )
            self.shares.append(share)
        self.register_outputs({"network_id": self.network.id, "vlan": vlan})
