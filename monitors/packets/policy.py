"""What the sensor must know about the estate, in the shape detections need.

`SensorPolicy` is built from the estate (`monitors.packets.from_estate`),
which declares gateway MACs, router link-locals and DHCP servers; a small
YAML overlay can add to or override those facts (a segment the estate does
not describe, a replacement gateway before the estate is updated) and
override thresholds per detection.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from estate.prefixes import Network, PrefixMap
from estate.source import YAML_LOAD_ERRORS
from security.events import Context

ZoneOf = Callable[[bytes], str | None]  # the zone of a raw (4 or 16 byte) address
Allowed = Callable[[str, str, str, int | None], bool]


_NOWHERE = Context()


class PolicyError(ValueError):
    """Bad sensor policy input; the message is one line naming file and key."""


def _no_zones(address: bytes) -> str | None:
    return None


def _allow_all(src: str, dst: str, protocol: str, port: int | None) -> bool:
    return True


@dataclass
class SensorPolicy:
    """Declared facts the detections compare the wire against.

    - `gateways`: IPv4/IPv6 gateway address -> segment name (ARP/ND claims);
    - `gateway_macs`: gateway address -> the MACs allowed to claim it (empty:
      learn the first MAC seen, and flag any other);
    - `routers`: addresses or MACs allowed to send Router Advertisements
      (a gateway's MAC, declared or first seen, counts too: the box that
      owns the gateway address is the segment's router);
    - `dhcp_servers`: addresses (v4 or v6) allowed to answer DHCP;
    - `planned`: the address plan; an RA prefix outside it is foreign;
    - `segments`: prefix -> segment name, for IPv6 adoption per segment;
    - `places`: prefix -> estate context (`yunwang.*` in events);
    - `zone_of`/`allowed`: the estate's zone map and isolation matrix;
    - `thresholds`: detection key -> {threshold name: value}.
    """

    zone_of: ZoneOf = _no_zones
    allowed: Allowed = _allow_all
    gateways: dict[str, str] = field(default_factory=dict)
    gateway_macs: dict[str, frozenset[str]] = field(default_factory=dict)
    routers: frozenset[str] = frozenset()
    # MACs seen answering for a gateway address with no declared MAC (trust
    # on first use); filled by the gateway detection while sensing.
    learned_gateway_macs: set[str] = field(default_factory=set)
    dhcp_servers: frozenset[str] = frozenset()
    planned: PrefixMap[Network] = field(default_factory=PrefixMap)
    segments: PrefixMap[str] = field(default_factory=PrefixMap)
    thresholds: dict[str, dict[str, Any]] = field(default_factory=dict)
    places: PrefixMap[Context] = field(default_factory=PrefixMap)
    source: str = "<policy>"

    def locate(self, address: bytes | None) -> Context:
        """Where in the estate an address is (node, county, tenant, zone)."""
        if address is None:
            return _NOWHERE
        return self.places.lookup(address) or _NOWHERE

    def apply_overlay(self, path: str | Path) -> None:
        """Merge a YAML overlay (see docs/packets.md) into this policy."""
        data = _read_yaml(Path(path))
        where = str(path)
        for key in data:
            if key not in _OVERLAY_KEYS:
                raise PolicyError(
                    f"{where}: {key}: unknown key (expected one of {', '.join(_OVERLAY_KEYS)})"
                )
        for address, macs in _mapping(
            data.get("gateway_macs", {}), f"{where}: gateway_macs"
        ).items():
            ip = _address(address, f"{where}: gateway_macs")
            values = [macs] if isinstance(macs, str | int) else macs
            if not isinstance(values, list) or not values:
                raise PolicyError(f"{where}: gateway_macs.{address}: expected a MAC or a list")
            self.gateway_macs[ip] = frozenset(
                _mac(m, f"{where}: gateway_macs.{address}") for m in values
            )
            self.gateways.setdefault(ip, "declared")
        routers = [_router(r, f"{where}: routers") for r in _list(data, "routers", where)]
        self.routers = self.routers | frozenset(routers)
        servers = [
            _address(s, f"{where}: dhcp_servers") for s in _list(data, "dhcp_servers", where)
        ]
        self.dhcp_servers = self.dhcp_servers | frozenset(servers)
        for detection, values in _mapping(
            data.get("thresholds", {}), f"{where}: thresholds"
        ).items():
            merged = self.thresholds.setdefault(str(detection), {})
            merged.update(_mapping(values, f"{where}: thresholds.{detection}"))
        self.source = f"{self.source} + {where}"

    def add_planned(self, network: Network) -> None:
        self.planned.add(network, network)


_OVERLAY_KEYS = ("gateway_macs", "routers", "dhcp_servers", "thresholds")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read sensor policy ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise PolicyError(f"{path}:{line} not valid YAML") from exc
    except YAML_LOAD_ERRORS as exc:
        raise PolicyError(
            f"{path}: not valid YAML ({type(exc).__name__}: {str(exc)[:80]})"
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: expected a mapping at the top level")
    return data


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(f"{where}: expected a mapping")
    return value


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise PolicyError(f"{where}: {key}: expected a list")
    return value


def _address(value: Any, where: str) -> str:
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError as exc:
        raise PolicyError(f"{where}: {value!r} is not an IP address") from exc


def _mac(value: Any, where: str) -> str:
    if isinstance(value, int):
        # YAML 1.1 reads an unquoted 52:54:00:12:34:56 as a base-60 number.
        raise PolicyError(f'{where}: a MAC address must be quoted ("52:54:00:12:34:56")')
    text = str(value).lower().replace("-", ":")
    parts = text.split(":")
    if len(parts) != 6 or not all(
        len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts
    ):
        raise PolicyError(f"{where}: {value!r} is not a MAC address (aa:bb:cc:dd:ee:ff)")
    return text


def _router(value: Any, where: str) -> str:
    """A router is declared by its address (usually link-local) or its MAC."""
    text = str(value)
    if text.count(":") == 5 and "::" not in text:
        return _mac(text, where)
    return _address(text, where)
