"""The sensor policy compiled once per estate, so `yunwang sense` starts at once.

Loading puyang.yaml (YAML, pydantic validation, address planning) and
deriving the sensor policy from it cost ~2 CPU-seconds; the policy itself
is a few thousand prefixes, addresses and MACs. `policy_for` keeps the
compiled policy in $YUNWANG_HOME/cache/sensor-policy/, one file per estate
path, and uses it while the estate is unchanged.

The cache is keyed by a SHA-256 of every estate file the policy comes from
(an estate is one file today: its bytes, not its mtime), of yunwang's
version and of this format's number. A cache for another key, a corrupt or
truncated file, a bad signature or a document of the wrong shape is
ignored and rebuilt from the estate: it never crashes the sensor and is
never trusted.

Why JSON with an HMAC rather than pickle: unpickling runs code chosen by
whoever wrote the file, so a peer able to drop a file in the cache (a
shared home, a restored backup, a copied directory) would own the sensor.
JSON only ever yields data. The HMAC (a random key created 0600 in the
cache directory) adds that a policy written elsewhere, or edited by hand to
blind a detection, is not used: only this home's own compilations are.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from estate.addressing import ZoneLookup
from estate.home import yunwang_home
from security.events import Context

from .policy import SensorPolicy

if TYPE_CHECKING:
    from estate import Estate

FORMAT: Final = 1
_KEY_BYTES: Final = 32
# A compiled policy of the whole city is ~2 MB; anything far larger is not ours.
_MAX_DOCUMENT: Final = 256 << 20

# (protocol, lowest port, highest port); ports None for "every port".
ServiceRange = tuple[str, int | None, int | None]


class IsolationMatrix:
    """`Estate.allowed` without the estate: the same rules, as plain tuples.

    Kept equal to `estate.model.Estate.allowed` and `Service.matches` (tests
    compare the two on every zone pair and service of the example estates).
    """

    def __init__(self, rules: list[tuple[str, str, list[ServiceRange]]]) -> None:
        self.rules = rules
        self._verdicts: dict[tuple[str, str, str, int | None], bool] = {}

    def allowed(self, src_zone: str, dst_zone: str, protocol: str, port: int | None) -> bool:
        if src_zone == dst_zone:
            return True
        key = (src_zone, dst_zone, protocol, port)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = any(
                src in (src_zone, "*")
                and dst in (dst_zone, "*")
                and any(_matches(service, protocol, port) for service in services)
                for src, dst, services in self.rules
            )
            if len(self._verdicts) < 100_000:
                self._verdicts[key] = verdict
        return verdict


def _matches(service: ServiceRange, protocol: str, port: int | None) -> bool:
    wanted, low, high = service
    if wanted not in ("any", protocol) and not (wanted == "icmp" and protocol == "icmpv6"):
        return False
    return low is None or (port is not None and low <= port <= (high or low))


def policy_for(estate_file: Path, load: Callable[[Path], Estate]) -> SensorPolicy:
    """The estate's sensor policy: compiled from the cache when the estate is
    unchanged, else built with `load` (which reports a bad estate) and cached."""
    try:
        content = estate_file.read_bytes()
    except OSError:
        return _build(estate_file, load)  # `load` says what is wrong
    key = cache_key(content)
    place = cache_path(estate_file)
    document = _read(place, key)
    if document is not None:
        with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError, IndexError):
            return decompile(document, str(estate_file))
    return _build(estate_file, load, key, place)


def _build(
    estate_file: Path, load: Callable[[Path], Estate], key: str = "", place: Path | None = None
) -> SensorPolicy:
    # The estate model (pydantic, the planner) only when the cache cannot serve.
    from .estate_policy import policy_from_estate

    estate = load(estate_file)
    policy = policy_from_estate(estate)
    if place is not None:
        _write(place, compile_policy(estate, policy, key))
    return policy


def cache_key(content: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(f"yunwang {_version()} sensor-policy {FORMAT}\0".encode())
    digest.update(hashlib.sha256(content).digest())
    return digest.hexdigest()


def cache_path(estate_file: Path) -> Path:
    name = hashlib.sha256(str(estate_file.resolve()).encode()).hexdigest()[:32]
    return yunwang_home() / "cache" / "sensor-policy" / f"{name}.json"


def compile_policy(estate: Estate, policy: SensorPolicy, key: str) -> dict[str, Any]:
    entries, outside = estate.zone_lookup.table()
    return {
        "format": FORMAT,
        "key": key,
        "zones": {"entries": entries, "outside": outside},
        "isolation": [
            [r.src, r.dst, [[s.protocol, s.port_min, s.port_max] for s in r.services]]
            for r in estate.isolation
        ],
        "gateways": policy.gateways,
        "gateway_macs": {ip: sorted(macs) for ip, macs in policy.gateway_macs.items()},
        "routers": sorted(policy.routers),
        "dhcp_servers": sorted(policy.dhcp_servers),
        "planned": [[v, length, n] for v, length, n, _ in policy.planned.entries()],
        "segments": list(policy.segments.entries()),
        "places": [[v, length, n, c.to_ecs()] for v, length, n, c in policy.places.entries()],
    }


def decompile(document: dict[str, Any], source: str) -> SensorPolicy:
    """The policy a compiled document describes; raises ValueError/TypeError/
    KeyError on a document of the wrong shape (the caller rebuilds)."""
    zones = ZoneLookup.from_table(
        (
            (int(v), int(length), int(n), _optional_str(z))
            for v, length, n, z in document["zones"]["entries"]
        ),
        _optional_str(document["zones"]["outside"]),
    )
    matrix = IsolationMatrix(
        [
            (
                str(src),
                str(dst),
                [(str(p), _optional_int(lo), _optional_int(hi)) for p, lo, hi in services],
            )
            for src, dst, services in document["isolation"]
        ]
    )
    policy = SensorPolicy(zone_of=zones.zone_of, allowed=matrix.allowed, source=source)
    policy.gateways = {str(ip): str(name) for ip, name in document["gateways"].items()}
    policy.gateway_macs = {
        str(ip): frozenset(str(m) for m in macs) for ip, macs in document["gateway_macs"].items()
    }
    policy.routers = frozenset(str(r) for r in document["routers"])
    policy.dhcp_servers = frozenset(str(s) for s in document["dhcp_servers"])
    for v, length, n in document["planned"]:
        network = ipaddress.ip_network((int(n), int(length)))
        if network.version != v:
            raise ValueError("planned prefix of the wrong family")
        policy.planned.add_number(int(v), int(length), int(n), network)
    for v, length, n, segment in document["segments"]:
        policy.segments.add_number(int(v), int(length), int(n), str(segment))
    for v, length, n, place in document["places"]:
        policy.places.add_number(int(v), int(length), int(n), Context(**place))
    return policy


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _version() -> str:
    try:
        return metadata.version("yunwang")
    except metadata.PackageNotFoundError:
        return "unknown"


def _secret(directory: Path) -> bytes:
    """This home's signing key, created on first use, readable only by its owner."""
    path = directory / ".key"
    try:
        key = path.read_bytes()
        if len(key) == _KEY_BYTES:
            return key
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(_KEY_BYTES)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = directory / f".key.{os.getpid()}"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    os.replace(partial, path)
    return key


def _read(place: Path, key: str) -> dict[str, Any] | None:
    try:
        with place.open("rb") as handle:
            raw = handle.read(_MAX_DOCUMENT + 1)
        secret = (place.parent / ".key").read_bytes()
    except OSError:
        return None
    signature, _, body = raw.partition(b"\n")
    if len(raw) > _MAX_DOCUMENT or len(secret) != _KEY_BYTES:
        return None
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
    if not hmac.compare_digest(signature, expected):
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict) or document.get("key") != key:
        return None
    return document


def _write(place: Path, document: dict[str, Any]) -> None:
    """Best effort: a read-only home only means the next start compiles again."""
    with contextlib.suppress(OSError):
        secret = _secret(place.parent)
        body = json.dumps(document, separators=(",", ":")).encode()
        signature = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
        partial = place.with_name(f"{place.name}.{os.getpid()}.tmp")
        partial.write_bytes(signature + b"\n" + body)
        os.replace(partial, place)
