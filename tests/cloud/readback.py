"""Test harness: what the API stored, compared with what the translator sent.

The API answers in its own spelling: one segment as the network's
`provider:*` attributes, fixed IPs with extra keys, addresses and prefixes
written its own way. These read the stored object in the shape the input
had, and compare addresses as addresses.
"""

from __future__ import annotations

import ipaddress
from typing import Any


def stored_as(name: str, value: Any, stored: dict[str, Any]) -> Any:
    if name == "segments":
        # One segment comes back as the network's provider:* attributes.
        if "segments" in stored:
            return stored["segments"]
        return [
            {
                "networkType": stored.get("provider:network_type"),
                "physicalNetwork": stored.get("provider:physical_network"),
                "segmentationId": stored.get("provider:segmentation_id"),
            }
        ]
    if name == "fixed_ips":
        return [
            {k: ip[k] for k in want if k in ip}
            for want, ip in zip(value, stored.get("fixed_ips", []), strict=False)
        ]
    if name == "allowed_address_pairs":
        return [{"ip_address": p["ip_address"]} for p in stored.get(name, [])]
    return stored.get(name)


def same(sent: Any, stored: Any) -> bool:
    if isinstance(sent, list) and isinstance(stored, list):
        if all(isinstance(x, str) for x in sent + stored):
            return sorted(norm(x) for x in sent) == sorted(norm(x) for x in stored)
        return len(sent) == len(stored) and all(
            same(a, b) for a, b in zip(sent, stored, strict=True)
        )
    if isinstance(sent, dict) and isinstance(stored, dict):
        return all(same(v, stored.get(k)) for k, v in sent.items())
    if isinstance(sent, str) and isinstance(stored, str):
        return norm(sent) == norm(stored)
    return bool(sent == stored)


def norm(text: str) -> str:
    """Addresses and prefixes compared as such (the API may write them its own way)."""
    try:
        if "/" in text:
            return str(ipaddress.ip_network(text))  # strict: host bits set stay a difference
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text
