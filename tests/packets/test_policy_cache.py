"""The compiled sensor policy: what the estate gives, from a cache that is never trusted blindly.

A cached policy must behave as the one built from the estate (same events
on the attack scenarios, same zone and isolation verdicts on the example
city); a corrupt, truncated, forged or stale cache is rebuilt, and a
bad estate is still reported in one line.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from estate import Estate, load
from monitors.packets import Sensor, SensorPolicy
from monitors.packets.estate_policy import policy_from_estate
from monitors.packets.policy_cache import IsolationMatrix, cache_path, policy_for
from tests.packets import scenarios

ROOT = Path(__file__).resolve().parents[2]
PUYANG = ROOT / "examples" / "puyang.yaml"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("YUNWANG_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def estate_copy(tmp_path: Path) -> Path:
    path = tmp_path / "estate.yaml"
    path.write_bytes(scenarios.ESTATE.read_bytes())
    return path


class Loads:
    """`load` that counts how often the estate was really read."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, path: Path) -> Estate:
        self.count += 1
        return load(path)


def _events(policy: SensorPolicy) -> list[tuple[str | None, str]]:
    sensor = Sensor(policy, observer="test")
    for index, packet in enumerate(scenarios.all_frames()):
        sensor.feed(1_750_000_000 + index * 0.01, bytes(packet))
    sensor.close()
    return sorted((e.rule_id, e.id) for e in sensor.events)


def _signed(place: Path, body: bytes) -> None:
    key = (place.parent / ".key").read_bytes()
    place.write_bytes(hmac.new(key, body, hashlib.sha256).hexdigest().encode() + b"\n" + body)


def test_the_cached_policy_raises_the_events_the_estate_policy_does(
    home: Path, estate_copy: Path, policy_file: Path
) -> None:
    loads = Loads()
    built = policy_for(estate_copy, loads)
    cached = policy_for(estate_copy, loads)
    assert loads.count == 1  # the second start never read the estate
    fresh = policy_from_estate(load(estate_copy))
    for policy in (built, cached, fresh):
        policy.apply_overlay(policy_file)
    assert _events(cached) == _events(fresh) == _events(built)
    assert len(_events(cached)) == len(scenarios.EXPECTED)
    assert cached.source.startswith(f"{estate_copy} + ")


def test_a_changed_estate_is_compiled_again(home: Path, estate_copy: Path) -> None:
    loads = Loads()
    policy_for(estate_copy, loads)
    estate_copy.write_text(estate_copy.read_text().replace("tcp/443]", "tcp/443, tcp/22]"))
    policy = policy_for(estate_copy, loads)
    assert loads.count == 2
    assert policy.allowed("gov-extranet", "exchange", "tcp", 22)


def _corruptions(place: Path) -> Iterator[tuple[str, bytes | None]]:
    good = place.read_bytes()
    signature, _, body = good.partition(b"\n")
    yield "empty", b""
    yield "truncated", good[: len(good) // 2]
    yield "binary junk", bytes(range(256)) * 4
    yield "body edited, old signature", signature + b"\n" + body.replace(b"exchange", b"exchangf")
    yield "pickle", b"\x80\x04\x95" + body[:40]
    document = json.loads(body)
    document["places"] = [[4, 24, "not a number", {"node": "x"}]]
    yield "signed, wrong shape", json.dumps(document).encode()
    document = json.loads(body)
    document["key"] = "0" * 64
    yield "signed, another estate", json.dumps(document).encode()
    yield "signed, not a mapping", b"[1, 2, 3]"


def test_a_corrupt_or_forged_cache_is_rebuilt_never_trusted(home: Path, estate_copy: Path) -> None:
    loads = Loads()
    reference = policy_for(estate_copy, loads)
    place = cache_path(estate_copy)
    assert place.is_file() and place.parent.joinpath(".key").stat().st_mode & 0o077 == 0
    for name, content in list(_corruptions(place)):
        if name.startswith("signed"):
            assert content is not None
            _signed(place, content)
        elif content is not None:
            place.write_bytes(content)
        before = loads.count
        policy = policy_for(estate_copy, loads)
        assert loads.count == before + 1, name  # rebuilt from the estate
        assert policy.gateways == reference.gateways, name
        assert policy_for(estate_copy, loads).routers == reference.routers  # and cached again
        assert loads.count == before + 1, name


def test_a_cache_signed_with_another_homes_key_is_not_used(home: Path, estate_copy: Path) -> None:
    loads = Loads()
    policy_for(estate_copy, loads)
    (cache_path(estate_copy).parent / ".key").write_bytes(b"k" * 32)  # another home's key
    policy_for(estate_copy, loads)
    assert loads.count == 2


def test_a_bad_estate_is_still_reported_by_the_loader(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("zones: [")

    def load_estate(path: Path) -> Estate:
        raise SystemExit(f"{path}: not an estate")

    with pytest.raises(SystemExit, match="not an estate"):
        policy_for(bad, load_estate)
    with pytest.raises(SystemExit, match="not an estate"):
        policy_for(tmp_path / "missing.yaml", load_estate)


def test_the_compiled_matrix_and_zones_answer_as_the_estate_does(home: Path) -> None:
    """Every zone pair of the city, every service the matrix names and a few it does not."""
    estate = load(PUYANG)
    policy = policy_for(PUYANG, lambda path: estate)
    cached = policy_for(PUYANG, lambda path: pytest.fail("the city was compiled once"))
    assert isinstance(cached.allowed.__self__, IsolationMatrix)  # type: ignore[attr-defined]
    names = [z.name for z in estate.zones]
    services = {(s.protocol, s.port_min) for r in estate.isolation for s in r.services}
    services |= {("tcp", 1), ("udp", 53), ("icmpv6", None), ("icmp", None), ("tcp", 65535)}
    for src in names:
        for dst in names:
            for protocol, port in services:
                if protocol == "any":
                    continue
                assert cached.allowed(src, dst, protocol, port) == estate.allowed(
                    src, dst, protocol, port
                ), (src, dst, protocol, port)
    for node in estate.nodes()[::97]:
        for address in (node.lan4.network_address + 5, node.lan6.network_address + 5):
            assert cached.zone_of(address.packed) == estate.zone_of(address)
            assert estate.zone_of(address.packed) == estate.zone_of(str(address))
            assert cached.locate(address.packed) == policy.locate(address.packed)
    for outside in ("8.8.8.8", "2001:4860::8888", "10.255.255.255"):
        assert cached.zone_of(ipaddress.ip_address(outside).packed) == estate.zone_of(outside)
