"""What a segment's IPv6 mode tells its hosts: the Router Advertisement flags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Typing only: the dual-link role's filter plugin renders RA lines inside
    # every ansible-playbook run, which needs neither the schema nor pydantic.
    from estate.spec_types import Ipv6Mode


@dataclass(frozen=True)
class RaFlags:
    """What a segment's Router Advertisements tell its hosts (RFC 4861 4.2)."""

    managed: bool  # M: addresses from DHCPv6
    other: bool  # O: other configuration (DNS) from DHCPv6
    autonomous: bool  # A on the prefix: hosts may form SLAAC addresses


def ra_flags(mode: Ipv6Mode) -> RaFlags:
    """The RA flags of an `ipv6_mode`: the OpenStack subnet modes' meaning
    (ipv6_ra_mode), so a zone's subnets and its router advertise alike."""
    if mode == "dhcpv6-stateful":
        return RaFlags(managed=True, other=True, autonomous=False)
    if mode == "dhcpv6-stateless":
        return RaFlags(managed=False, other=True, autonomous=True)
    return RaFlags(managed=False, other=False, autonomous=True)
