"""The IPv6 migration on the real network: its targets and inventory from the
estate (extranet.nodes[].hosts, extranet.ansible), `plan` without --lab on
the example estates, and bad declarations as one line each.

Nothing here connects anywhere: `run` without --lab reaches the estate's
routers, so only the inventory it hands Ansible and the ssh command lines of
its gates are checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from estate import load
from playbooks.migration import HostTarget, inventory, plan
from playbooks.migration_estate import SshReach, estate_sources, estate_targets
from tests.estate.helpers import load_ok, mutated, node, problems_of

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "examples" / "small.yaml"
PUYANG = REPO / "examples" / "puyang.yaml"


def _plan(estate: Path, tmp_path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "yunwang", "migrate", "ipv6", str(estate), "plan", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "YUNWANG_HOME": str(tmp_path / "home")},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_plan_without_lab_stages_the_small_estates_routers_and_hosts(tmp_path: Path) -> None:
    batches = _plan(SMALL, tmp_path)["batches"]
    shape = [(b["stage"], b["kind"], b["canary"], b["targets"]) for b in batches]
    assert shape[:5] == [
        ("city", "routers", True, ["py"]),
        ("city", "hosts", True, ["py-nms-1"]),
        ("county", "routers", True, ["hl"]),
        ("county", "routers", False, ["qf"]),
        ("county", "hosts", True, ["hl-app-1"]),
    ]
    assert ("township", "hosts", True, ["hl-zyl-jump"]) in shape
    assert [b["stage"] for b in batches][-1] == "village"
    assert all(b["migrated"] == [] for b in batches)


def test_plan_without_lab_covers_every_router_of_puyang(tmp_path: Path) -> None:
    batches = _plan(PUYANG, tmp_path)["batches"]
    routers = [t for b in batches if b["kind"] == "routers" for t in b["targets"]]
    assert len(routers) == len(set(routers)) == len(load(PUYANG).nodes())
    canaries = [(b["stage"], b["kind"]) for b in batches if b["canary"]]
    assert canaries == [
        ("city", "routers"),
        ("city", "hosts"),
        ("county", "routers"),
        ("county", "hosts"),
        ("township", "routers"),
        ("township", "hosts"),
        ("village", "routers"),
    ]
    assert all(len(b["targets"]) <= 4 for b in batches)


def test_the_inventory_reaches_the_estate_by_reference_only() -> None:
    estate = load(SMALL)
    targets = estate_targets(estate)
    inv = inventory(targets, estate_sources(estate))["all"]["hosts"]
    host = inv["hl-app-1"]
    assert host["ansible_host"] == "10.40.128.20"
    # The planned IPv6 address: the same host number (20 = 0x14) in the LAN's /64.
    assert host["ipv6_migration_address"] == "2001:db8:3900:8800::14/64"
    assert host["ipv6_migration_gateway"] == "2001:db8:3900:8800::1"
    assert host["ansible_user"] == "yunwang" and host["ansible_become"] is True
    assert host["ansible_ssh_private_key_file"] == "/etc/yunwang/ssh/extranet_ed25519"
    assert "UserKnownHostsFile=/etc/yunwang/ssh/known_hosts" in host["ansible_ssh_common_args"]
    assert not [k for h in inv.values() for k in h if "pass" in k or "secret" in k]
    router = inv["hl"]
    assert router["ansible_host"] == "10.40.128.1" and router["ipv6_migration_kind"] == "router"
    assert " ipv6 address 2001:db8:3900:8800::1/64" in router["ipv6_migration_frr"]
    # The management zone's IPv4 rules get twins from its IPv6 prefix.
    assert "10.35.192.0/18" in [s["v4"] for s in estate_sources(estate)]
    stages = {t.name: t.stage for t in targets if isinstance(t, HostTarget)}
    assert stages == {"py-nms-1": "city", "hl-app-1": "county", "hl-zyl-jump": "township"}
    assert plan(targets, canary="hl-app-1", stage="county")[0][0].name == "hl"


def test_the_gates_ssh_as_the_estate_says() -> None:
    reach = SshReach(load(SMALL))
    assert reach._ssh("hl-zyl-jump", 6) == [
        "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-p", "22", "-l", "yunwang",
        "-i", "/etc/yunwang/ssh/extranet_ed25519",
        "-o", "UserKnownHostsFile=/etc/yunwang/ssh/known_hosts", "-o", "StrictHostKeyChecking=yes",
        "--", "2001:db8:3900:8840::a",
    ]  # fmt: skip
    # "nms" is this machine: the controller stands where the NMS does.
    assert reach.run("nms", ["echo", "here"]).stdout == "here\n"


def _host(data: dict[str, Any], node_id: str, **host: object) -> None:
    node(data, node_id)["hosts"] = [host]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: _host(d, "hl", name="hl-app-1", address4="10.40.0.10"),
            "extranet.nodes[1].hosts[0].address4: expected a host address in hl's LAN "
            "10.40.128.0/22, found 10.40.0.10",
        ),
        (
            lambda d: _host(
                d, "hl", name="hl-app-1", address4="10.40.128.20", address6="2001:db8::1"
            ),
            "extranet.nodes[1].hosts[0].address6: expected an address in hl's LAN "
            "2001:db8:3900:8800::/64, found 2001:db8::1",
        ),
        (
            lambda d: _host(d, "hl", name="hl-app-1", address4="10.40.128.2"),
            "extranet.nodes[1].hosts[0]: 10.40.128.2 / 2001:db8:3900:8800::2 is already "
            "hl-agg-2's address",
        ),
        (
            lambda d: _host(d, "hl", name="hl-zyl", address4="10.40.128.30"),
            "extranet.nodes[1].hosts[0].name: 'hl-zyl' is a node's id: expected a host name of its own",
        ),
        (
            lambda d: _host(d, "hl", name="py-nms-1", address4="10.40.128.30"),
            "extranet.nodes[1].hosts[0].name: host 'py-nms-1' is declared twice",
        ),
        (
            lambda d: d["extranet"]["ansible"].update(private_key_file="key; rm -rf /"),
            "extranet.ansible.private_key_file: string should match pattern",
        ),
        (
            lambda d: d["extranet"]["ansible"].update(password="hunter2"),
            "extranet.ansible.password: unknown key 'password'",
        ),
    ],
)
def test_a_bad_host_or_access_declaration_is_one_line(edit: Any, expected: str) -> None:
    found = problems_of(mutated(edit))
    assert len(found) == 1 and expected.lower() in found[0].lower(), found
    assert found[0].startswith("t.yaml:")


def test_a_declared_ipv6_address_is_kept() -> None:
    text = mutated(
        lambda d: _host(
            d, "hl", name="app", address4="10.40.128.30", address6="2001:db8:3900:8800::beef"
        )
    )
    (host,) = load_ok(text).node("hl").hosts
    assert str(host.address6) == "2001:db8:3900:8800::beef"


def test_status_without_lab_reads_the_networks_own_record(tmp_path: Path) -> None:
    env = {**os.environ, "YUNWANG_HOME": str(tmp_path / "home")}
    argv = [sys.executable, "-m", "yunwang", "migrate", "ipv6", str(SMALL), "status", "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["migrated"] == 0
    names = {t["name"] for t in status["targets"]}
    assert {"py", "hl", "hl-zyl-v001", "py-nms-1", "hl-app-1", "hl-zyl-jump"} <= names
