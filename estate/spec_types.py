"""The estate file's words: the base of every spec model and the value types
they share (levels, codes, bandwidths, durations, MACs, addresses)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from estate.units import parse_bandwidth, parse_duration, parse_mac

Level = Literal["city", "county", "township", "village"]
Role = Literal["primary", "backup"]
# How a segment's hosts get IPv6 addresses: what its Router Advertisements say.
Ipv6Mode = Literal["slaac", "dhcpv6-stateful", "dhcpv6-stateless"]
MAX_CODE = 40  # characters in a code: ids and names devices and tools share
Code = Annotated[str, StringConstraints(pattern=rf"^[a-z0-9][a-z0-9-]{{0,{MAX_CODE - 1}}}$")]
Bandwidth = Annotated[int, BeforeValidator(parse_bandwidth)]
Duration = Annotated[float, BeforeValidator(parse_duration)]
PositiveInt = Annotated[int, Field(ge=0)]
Mac = Annotated[str, BeforeValidator(parse_mac)]


def _address(value: object) -> object:
    if isinstance(value, IPv4Address | IPv6Address):
        return value
    try:
        return ip_address(str(value))
    except ValueError:
        raise ValueError(f"expected an IPv4 or IPv6 address, found {value!r}") from None


IpAddress = Annotated[IPv4Address | IPv6Address, BeforeValidator(_address)]


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
