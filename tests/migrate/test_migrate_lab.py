"""`yunwang migrate ipv6` against real Debian hosts and FRR routers in the lab.

Routers and hosts start IPv4-only (`--no-router-ipv6`): no IPv6 on LANs and
zones, no OSPFv3. One host carries a hardening-style nftables firewall
(default drop, the NMS let in over IPv4 only), so its gates pass only if the
migration mirrors the IPv4 rules. Gates are real: OSPFv3 neighbours from
the routers' vtysh JSON, each router's RA heard on the wire of its
segments, ping6, ssh over IPv6 and IPv4 ping from the NMS namespace. A
blackholed primary uplink keeps the county's OSPFv3 from coming up: its
router batch rolls back to IPv4-only. A blackholed IPv6 route on the
township router fails the host gate; that batch rolls back too.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from datetime import timedelta
from ipaddress import ip_interface
from pathlib import Path

import pytest

from lab.lab import Lab
from security.events import utcnow
from security.store import open_store
from tests.waiting import wait_until

pytestmark = [pytest.mark.lab, pytest.mark.slow]
SMALL = Path(__file__).resolve().parents[2] / "examples" / "small.yaml"
FIREWALLED = "jwzh-app-1"  # on the city's zone segment
TOWNSHIP_HOST = "hl-zyl-h1"
ROUTERS = ("py", "hl", "hl-zyl")  # city, county, township
ALL_PIECES = ["prefix", "ra", "ospf6"]


def _migrate(lab: Lab, store: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The verb as a user runs it: its own process, stderr a pipe."""
    return subprocess.run(
        [sys.executable, "-m", "yunwang", "migrate", "ipv6", str(SMALL), *args,
         "--lab-dir", str(lab.directory), "--store", store, "--json"],
        capture_output=True, text=True, timeout=600, env=os.environ, check=False,
    )  # fmt: skip


def _reachable(lab: Lab, host: str, family: int) -> bool:
    address = getattr(lab.plan.host(host), f"address{family}").split("/")[0]
    ping = lab.run("nms", f"ping -{family} -c 2 -i 0.2 -W 1 {address}", check=False)
    ssh = lab.ssh(host, "true", family=family, check=False, timeout=15)
    return ping.returncode == 0 and ssh.returncode == 0


def _declared_ra(lab: Lab, node: str) -> dict[str, str]:
    """Per LAN or zone segment of the router: the RA of the estate's default
    ipv6_mode (SLAAC) with the segment's planned prefix."""
    return {
        i.name: "M=0 O=0 prefixes "
        + ", ".join(sorted({f"{ip_interface(a).network} A=1" for a in i.addresses if ":" in a}))
        for i in lab.plan.router(node).interfaces
        if i.kind in ("lan", "zone")
    }


def _ipv6_of(lab: Lab, host: str) -> str:
    """The host's global IPv6 addresses and IPv6 default route, as it sees them."""
    done = lab.run(host, "ip -6 -o addr show scope global; ip -6 route show default")
    return done.stdout.strip()


def _router_ipv6(lab: Lab, node: str) -> tuple[str, list[str]]:
    """A router's global LAN/zone IPv6 addresses and its Full OSPFv3 neighbours'
    interfaces, as the router itself shows them."""
    router = lab.plan.router(node)
    lans = [i.name for i in router.interfaces if i.kind in ("lan", "zone")]
    addresses = "".join(
        lab.run(node, f"ip -6 -o addr show dev {name} scope global").stdout for name in lans
    )
    running = lab.run(node, ["vtysh", "-N", router.namespace, "-c", "show running-config"])
    if "router ospf6" not in running.stdout:
        return addresses.strip(), []
    raw = lab.run(node, ["vtysh", "-N", router.namespace, "-c", "show ipv6 ospf6 neighbor json"])
    full = [n["interfaceName"] for n in json.loads(raw.stdout)["neighbors"] if n["state"] == "Full"]
    return addresses.strip(), sorted(full)


def _ipv4_only(lab: Lab, node: str) -> bool:
    gateway4 = lab.plan.router(node).mgmt4[0]
    ping = lab.run("nms", f"ping -4 -c 2 -i 0.2 -W 1 {gateway4}", check=False)
    return _router_ipv6(lab, node) == ("", []) and ping.returncode == 0


def _segment(lab: Lab, host: str) -> str:
    return str(lab.plan.host(host).segment)


def _sshd_family(lab: Lab, host: str) -> str:
    done = lab.ssh(host, "/usr/sbin/sshd -T | sed -n 's/^addressfamily //p'")
    return done.stdout.strip()


def _harden_like(lab: Lab, host: str) -> None:
    """The hardening role's firewall shape: inet yunwang_filter, policy drop,
    the NMS allowed over IPv4 only."""
    nms4 = lab.plan.nms_address4.split("/")[0]
    rules = (
        "flush ruleset\ntable inet yunwang_filter {\n chain input {\n"
        "  type filter hook input priority filter; policy drop;\n"
        '  ct state established,related accept\n  iif "lo" accept\n'
        "  icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n"
        f"  ip saddr {nms4} tcp dport 22 accept\n"
        f'  ip saddr {nms4} icmp type echo-request accept comment "management"\n'
        " }\n}\n"
    )
    lab.ssh(host, f"nft -f - <<'EOF'\n{rules}EOF")


def test_migrate_gates_green_second_run_changes_nothing_and_stage_rollback(
    lab: Lab, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'events.db'}"
    _harden_like(lab, FIREWALLED)
    # An sshd told to listen on IPv4 only: the migration must change that.
    lab.ssh(
        TOWNSHIP_HOST,
        "grep -qx 'AddressFamily inet' /etc/ssh/sshd_config"
        " || echo 'AddressFamily inet' >> /etc/ssh/sshd_config; kill -HUP $(cat /run/sshd.pid)",
    )
    # sshd re-executes on SIGHUP: its port refuses connections for a moment.
    wait_until(lambda: _reachable(lab, TOWNSHIP_HOST, 4), 120, "sshd back after its SIGHUP")
    assert _sshd_family(lab, TOWNSHIP_HOST) == "inet"
    for host in (FIREWALLED, TOWNSHIP_HOST):
        assert _ipv6_of(lab, host) == "" and not _reachable(lab, host, 6)
    assert all(_ipv4_only(lab, node) for node in ROUTERS)

    planned = _migrate(lab, store, "plan")
    assert planned.returncode == 0, planned.stderr
    batches = json.loads(planned.stdout)["batches"]
    assert [(b["stage"], b["kind"], b["canary"], b["targets"]) for b in batches] == [
        ("city", "routers", True, ["py"]),
        ("city", "hosts", True, [FIREWALLED]),
        ("county", "routers", True, ["hl"]),
        ("township", "routers", True, ["hl-zyl"]),
        ("township", "hosts", True, [TOWNSHIP_HOST]),
    ]

    # IPv4 ping runs throughout the migration: it must lose nothing.
    address4 = lab.plan.host(TOWNSHIP_HOST).address4.split("/")[0]
    pinger = subprocess.Popen(
        ["ip", "netns", "exec", lab.namespace("nms"), "ping", "-q", "-i", "0.2", "-W", "1", address4],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        first = _migrate(lab, store, "run", "--adoption-gate")
    finally:
        pinger.send_signal(signal.SIGINT)  # ping prints its summary on SIGINT
        summary = pinger.communicate(timeout=10)[0]
    assert first.returncode == 0, first.stderr + first.stdout
    sent, received = map(int, re.findall(r"(\d+) packets transmitted, (\d+) received", summary)[0])
    assert sent > 20 and received == sent, summary
    report = json.loads(first.stdout)
    added = {h: o["added"] for b in report["batches"] for h, o in b["targets"].items()}
    assert added == {
        "py": ALL_PIECES,
        FIREWALLED: ["address", "route", "firewall"],
        "hl": ALL_PIECES,
        "hl-zyl": ALL_PIECES,
        TOWNSHIP_HOST: ["address", "route", "sshd"],
    }
    assert _sshd_family(lab, TOWNSHIP_HOST) == "any"
    # The packet sensor on each host's segment saw the gate's IPv6 flows.
    adoption = {b["targets"].popitem()[0]: b["adoption"] for b in report["batches"]}
    assert {h: sorted(a) for h, a in adoption.items()} == {
        "py": [], FIREWALLED: [_segment(lab, FIREWALLED)], "hl": [], "hl-zyl": [],
        TOWNSHIP_HOST: ["lan:hl-zyl"],
    }  # fmt: skip
    for host in (FIREWALLED, TOWNSHIP_HOST):
        assert adoption[host][_segment(lab, host)]["ipv6_flows"] >= 2  # ping6 and ssh
    # Each router's RA, heard on the wire of each of its segments (solicited by
    # the segment's host, or by the router itself where it has none): SLAAC.
    heard = {node: ra for b in report["batches"] for node, ra in b["ra"].items()}
    assert heard == {node: _declared_ra(lab, node) for node in ROUTERS}
    assert "batch 5/5 (township host canary): migrating hl-zyl-h1" in first.stderr
    for host in (FIREWALLED, TOWNSHIP_HOST):
        assert _reachable(lab, host, 6) and _reachable(lab, host, 4)
    # The routers, as they show it: LAN prefixes, OSPFv3 Full on both uplinks.
    for node in ("hl", "hl-zyl"):
        addresses, full = _router_ipv6(lab, node)
        assert lab.plan.router(node).mgmt6[0] in addresses
        assert {"up-p", "up-b"} <= set(full)
    rules = lab.ssh(FIREWALLED, "nft list chain inet yunwang_filter input").stdout
    nms6 = lab.plan.nms_address6.split("/")[0]
    assert f"ip6 saddr {nms6} tcp dport 22 accept" in rules
    assert f"ip6 saddr {nms6} icmpv6 type echo-request accept" in rules

    status = json.loads(_migrate(lab, store, "status").stdout)
    assert status["migrated"] == 5
    assert all(h["by"] and h["migrated_at"] for h in status["targets"])

    second = _migrate(lab, store, "run")
    assert second.returncode == 0, second.stderr + second.stdout
    assert all(
        o["added"] == []
        for b in json.loads(second.stdout)["batches"]
        for o in b["targets"].values()
    )

    back = _migrate(lab, store, "rollback", "--stage", "township")
    assert back.returncode == 0, back.stderr + back.stdout
    assert json.loads(back.stdout)["targets"] == ["hl-zyl", TOWNSHIP_HOST]
    assert _ipv6_of(lab, TOWNSHIP_HOST) == "" and _reachable(lab, TOWNSHIP_HOST, 4)
    assert _ipv4_only(lab, "hl-zyl")
    assert _sshd_family(lab, TOWNSHIP_HOST) == "inet"  # the drop-in is gone
    assert _reachable(lab, FIREWALLED, 6)  # another stage: untouched
    status = json.loads(_migrate(lab, store, "status").stdout)
    assert {h["name"]: h["migrated"] for h in status["targets"]} == {
        "py": True,
        FIREWALLED: True,
        "hl": True,
        "hl-zyl": False,
        TOWNSHIP_HOST: False,
    }

    events = list(
        open_store(store).iter_events(["yunwang.migration"], utcnow() - timedelta(hours=1))
    )
    assert sum(e.action == "host-migrated" and e.outcome == "success" for e in events) == 4
    assert sum(e.action == "router-migrated" and e.outcome == "success" for e in events) == 6
    assert sum(e.action == "stage-rolled-back" for e in events) == 1
    trail = (Path(os.environ["YUNWANG_HOME"]) / "audit.jsonl").read_text().splitlines()
    actions = [json.loads(line)["action"] for line in trail]
    assert actions.count("migrate.ipv6.run.batch") == 10
    assert actions.count("migrate.ipv6.run") == 2
    assert actions.count("migrate.ipv6.rollback") == 1


def test_a_failed_gate_rolls_the_batch_back_to_ipv4_only_and_rollback_clears_all(
    lab: Lab, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'events.db'}"
    _harden_like(lab, FIREWALLED)
    clean = _migrate(lab, store, "rollback")  # whatever another test left: IPv4-only
    assert clean.returncode == 0, clean.stderr + clean.stdout
    city = _migrate(lab, store, "run", "--stage", "city")
    assert city.returncode == 0, city.stderr + city.stdout

    # The county's primary uplink fails silently: OSPFv3 cannot come up on it
    # (IPv4 has failed over to the backup). The router batch must roll back.
    lab.blackhole("hl/primary")
    try:
        county = _migrate(lab, store, "run", "--stage", "county", "--settle", "5")
    finally:
        lab.restore("hl/primary", wait=True)
    assert county.returncode == 1, county.stderr + county.stdout
    last = county.stderr.strip().splitlines()[-1]
    assert last == "migration stopped at batch 1 (rolled back): hl: up-p: OSPFv3 neighbour not Full"
    (batch,) = json.loads(county.stdout)["batches"]
    assert batch["rolled_back"] and batch["targets"]["hl"]["added"] == ALL_PIECES
    assert _ipv4_only(lab, "hl") and _reachable(lab, TOWNSHIP_HOST, 4)
    assert _router_ipv6(lab, "py")[0] != ""  # the city (another stage) keeps its IPv6

    county = _migrate(lab, store, "run", "--stage", "county")
    assert county.returncode == 0, county.stderr + county.stdout
    host = lab.plan.host(TOWNSHIP_HOST)
    before = _ipv6_of(lab, TOWNSHIP_HOST), _sshd_family(lab, TOWNSHIP_HOST)
    assert before[0] == ""
    # The township router drops IPv6 towards the host: the network is at fault.
    blackhole = f"ip -6 route {{}} blackhole {host.address6.split('/')[0]}/128"
    lab.run(host.router, blackhole.format("add"))
    try:
        failed = _migrate(
            lab, store, "run", "--stage", "township", "--settle", "3", "--adoption-gate"
        )
    finally:
        lab.run(host.router, blackhole.format("del"))
    assert failed.returncode == 1, failed.stderr + failed.stdout
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("migration stopped at batch 2 (rolled back): hl-zyl-h1: ping6 ")
    # The sensor on the township's LAN saw the IPv4 probe cross it, no IPv6.
    assert re.search(
        r"; hl-zyl-h1: IPv6 adoption on segment lan:hl-zyl \(sensor on hl-zyl lan\): "
        r"0 IPv6 flows, [1-9]\d* IPv4 flows during the gate$",
        last,
    ), last
    router_batch, host_batch = json.loads(failed.stdout)["batches"]
    assert router_batch["ok"] and host_batch["rolled_back"]
    assert {"address", "route"} <= set(host_batch["targets"][TOWNSHIP_HOST]["added"])
    # Exactly the state before: IPv4-only (sshd as it was), reachable.
    assert (_ipv6_of(lab, TOWNSHIP_HOST), _sshd_family(lab, TOWNSHIP_HOST)) == before
    assert _reachable(lab, TOWNSHIP_HOST, 4)
    status = json.loads(_migrate(lab, store, "status", "--stage", "township").stdout)
    assert {h["name"]: h["migrated"] for h in status["targets"]} == {
        "hl-zyl": True,
        TOWNSHIP_HOST: False,
    }

    # Every stage back to IPv4-only, the firewall's IPv6 twins gone with it.
    everything = _migrate(lab, store, "rollback")
    assert everything.returncode == 0, everything.stderr + everything.stdout
    for name in (FIREWALLED, TOWNSHIP_HOST):
        assert _ipv6_of(lab, name) == "" and _reachable(lab, name, 4)
    assert all(_ipv4_only(lab, node) for node in ROUTERS)
    rules = lab.ssh(FIREWALLED, "nft list chain inet yunwang_filter input").stdout
    assert "ip6 saddr" not in rules and "ip saddr" in rules
    events = list(
        open_store(store).iter_events(["yunwang.migration"], utcnow() - timedelta(hours=1))
    )
    assert sum(e.action == "batch-rolled-back" and e.outcome == "failure" for e in events) == 2
