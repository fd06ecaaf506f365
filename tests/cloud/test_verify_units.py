"""The parts of `verify cloud` that need no cloud: exposure grading and credential errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from estate import Estate
from infra.security_groups import zone_address_sets
from infra.verify.compare import compare
from infra.verify.credentials import CredentialError, connector
from infra.verify.reader import ReadError
from infra.verify.state import Obj, rule_key
from tests.cloud.testcloud import free_port

ROOT = Path(__file__).resolve().parents[2]


def _rule(group: str, proto: str, low: int | None, remote: str, zone: str | None) -> Obj:
    return Obj(
        "security_group_rule",
        rule_key("p", group, "ingress", "IPv4", proto, low, low, remote),
        zone=zone,
    )


def test_extra_rules_are_graded_by_what_they_open(small_estate: Estate) -> None:
    zones = zone_address_sets(small_estate)
    live = {
        (o.kind, o.key): o
        for o in (
            _rule("default", "tcp", 22, "0.0.0.0/0", None),
            _rule("default", "tcp", 443, "0.0.0.0/0", None),
            _rule("zone-management", "tcp", 5432, "ag:zone-exchange", "management"),
            _rule("zone-management", "tcp", 5432, "10.32.0.0/12", "management"),
            _rule("zone-management", "tcp", 5432, "ag:zone-management", "management"),
            _rule("web", "tcp", 80, "ag:zone-exchange", None),
        )
    }
    exposure = {
        d.key.split(" ", 1)[0]
        + " "
        + d.key.rsplit(" ", 2)[-2]
        + " "
        + d.key.rsplit(" ", 1)[-1]: d.exposure
        for d in compare({}, live, "r", "admin", zones)
    }
    assert (
        exposure
        == {
            "p/default 22 0.0.0.0/0": "internet-ssh",
            "p/default 443 0.0.0.0/0": "internet",
            "p/zone-management 5432 ag:zone-exchange": "forbidden-zone-pair",
            "p/zone-management 5432 10.32.0.0/12": "forbidden-zone-pair",  # the whole plan: other zones too
            "p/zone-management 5432 ag:zone-management": None,  # inside its own zone
            "p/web 80 ag:zone-exchange": None,  # not a zone group: nothing the matrix says
        }
    )


def test_default_group_rules_neutron_made_are_not_unmanaged() -> None:
    live = {
        (o.kind, o.key): o
        for o in (
            Obj(
                "security_group_rule",
                rule_key("gaj", "default", "ingress", "IPv4", None, None, None, "sg:default"),
            ),
            Obj(
                "security_group_rule",
                rule_key("gaj", "default", "egress", "IPv6", None, None, None, "::/0"),
            ),
            Obj("project", "service"),
            Obj("project", "admin"),
        )
    }
    assert compare({}, live, "r", "admin", {}) == []


def test_credentials_are_never_guessed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OS_AUTH_URL", "OS_CLOUD"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(CredentialError, match="no credentials: pass --cloud"):
        connector(None)
    with pytest.raises(CredentialError, match=r"no such clouds\.yaml"):
        connector(str(tmp_path / "clouds.yaml"))
    two = tmp_path / "two.yaml"
    two.write_text(
        "clouds:\n  a: {auth: {auth_url: 'http://127.0.0.1:1/v3'}}\n  b: {auth: {auth_url: 'http://127.0.0.1:1/v3'}}\n"
    )
    with pytest.raises(CredentialError) as err:
        connector(str(two))
    assert (
        str(err.value) == f"{two}: clouds: expected one cloud or $OS_CLOUD naming one, found a, b"
    )


def test_an_unreachable_cloud_is_one_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there: the connection is refused on loopback
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  city:\n    region_name: puyang-main\n    auth:\n"
        f"      auth_url: http://127.0.0.1:{port}/v3\n      username: reader\n"
        "      password: x\n      project_name: admin\n"
        "      user_domain_name: Default\n      project_domain_name: Default\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["YUNWANG_HOME"] = str(tmp_path / "home")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "yunwang",
            "verify",
            "cloud",
            "examples/small.yaml",
            "--cloud",
            str(clouds),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=300,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cloud: ") and "Traceback" not in result.stderr


def test_a_port_address_the_cloud_picks_matches_only_its_subnet() -> None:
    def port(*fixed: str) -> dict[tuple[str, str], Obj]:
        return {("port", "web-1"): Obj("port", "web-1", {"fixed_ips": sorted(fixed)})}

    want = port("gaj-web-v4=10.33.0.10", "gaj-web-v6=*")
    assert (
        compare(want, port("gaj-web-v4=10.33.0.10", "gaj-web-v6=2001:db8::5"), "r", "a", {}) == []
    )
    moved = compare(want, port("gaj-web-v4=10.33.0.10", "gaj-db-v6=2001:db8::5"), "r", "a", {})
    assert [(d.finding, list(d.fields)) for d in moved] == [("different", ["fixed_ips"])]
    readdressed = compare(
        want, port("gaj-web-v4=10.33.0.99", "gaj-web-v6=2001:db8::5"), "r", "a", {}
    )
    assert [d.finding for d in readdressed] == ["different"]


def test_a_clouds_yaml_pinned_to_one_region_is_told_to_list_the_dr_region(tmp_path: Path) -> None:
    auth = {"auth_url": "http://127.0.0.1:9/v3", "username": "reader", "password": "x"}
    pinned = tmp_path / "clouds.yaml"
    pinned.write_text(
        yaml.safe_dump({"clouds": {"city": {"auth": auth, "region_name": "puyang-main"}}})
    )
    connect = connector(str(pinned))
    assert connect("puyang-main").config.region_name == "puyang-main"
    with pytest.raises(ReadError, match=r"region puyang-dr of the estate.*under `regions:`"):
        connect("puyang-dr")
    both = {"auth": auth, "regions": ["puyang-main", "puyang-dr"]}
    pinned.write_text(yaml.safe_dump({"clouds": {"city": both}}))
    assert connector(str(pinned))("puyang-dr").config.region_name == "puyang-dr"
