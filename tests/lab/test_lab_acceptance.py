"""The issue's acceptance tests, on a real lab (root; CI runs them).

One lab for the whole package (the fixture `lab`, tests/lab/conftest.py); every test that
breaks something restores it in `finally`, so the tests stay independent.
"""

from __future__ import annotations

import itertools
import os
import shlex
import subprocess
import time
from collections.abc import Callable

import pytest

from lab import Lab
from lab.measure import ping_through, tcp_throughput

pytestmark = pytest.mark.lab

IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
IF_HC_OUT_OCTETS = "1.3.6.1.2.1.31.1.1.1.10"
OSPF_NBR_STATE = "1.3.6.1.2.1.14.10.1.6"
OSPFV3_NBR_STATE = "1.3.6.1.2.1.191.1.9.1.8"
_AUTH = {"sha": "SHA", "sha256": "SHA-256", "sha512": "SHA-512"}
_PRIV = {"aes128": "AES", "aes256": "AES-256"}


def eventually(check: Callable[[], bool], timeout_s: float = 60.0) -> bool:
    """True once `check` is (it returns then): the bound only ends a failing wait."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.25)
    return check()


def snmp(lab: Lab, node: str, verb: str, oid: str, family: int = 4, **override: str) -> str:
    """net-snmp's own tools from the NMS namespace, v3 authPriv."""
    cred = lab.snmp_v3(node)
    args = {
        "-a": _AUTH[cred.auth_protocol],
        "-A": cred.auth_key,
        "-x": _PRIV[cred.priv_protocol],
        "-X": cred.priv_key,
        **override,
    }
    argv = [verb, "-v3", "-l", "authPriv", "-u", cred.user, "-On", "-t", "1", "-r", "1"]
    for flag, value in args.items():
        argv += [flag, value]
    address = lab.router_snmp_address(node, family)
    target = address if family == 4 else f"udp6:[{address}]"
    done = lab.run("nms", [*argv, target, oid], check=False)
    return done.stdout if done.returncode == 0 else f"ERROR {done.stderr.strip()}"


def host_address(lab: Lab, name: str, family: int) -> str:
    host = lab.plan.host(name)
    return (host.address4 if family == 4 else host.address6).split("/")[0]


def route_dev(lab: Lab, node: str, destination: str) -> str:
    out = lab.run(node, ["ip", "route", "get", destination]).stdout.split()
    return out[out.index("dev") + 1]


# 1 -------------------------------------------------------------------------


def test_every_host_reaches_every_other_host_over_ipv4_and_ipv6(lab: Lab) -> None:
    levels = {lab.plan.router(h.router).level for h in lab.hosts}
    assert levels == {"city", "township"}, "hosts must sit at two levels of the extranet"
    failures = []
    for src, dst in itertools.permutations([h.name for h in lab.hosts], 2):
        for family in (4, 6):
            done = lab.run(
                src, ["ping", "-c", "1", "-W", "2", host_address(lab, dst, family)], check=False
            )
            if done.returncode != 0:
                failures.append(f"{src} -> {dst} IPv{family}")
    assert failures == []


# 2 -------------------------------------------------------------------------


def test_cut_primary_fails_over_to_backup_and_restore_returns(lab: Lab) -> None:
    src, dst = "hl-zyl-h1", host_address(lab, "jwzh-app-1", 4)
    assert route_dev(lab, "hl", dst) == "up-p"
    try:
        outage = ping_through(lab.namespace(src), dst, lambda: lab.cut("hl/primary"))
        assert route_dev(lab, "hl", dst) == "up-b"
        # Requests unanswered, not the time between replies: a loaded
        # machine can hold ping itself for seconds with nothing lost.
        assert outage.received > 0 and outage.lost_run_s < 1.0, outage
        back = ping_through(lab.namespace(src), dst, lambda: lab.restore("hl/primary"), after_s=3.0)
        assert eventually(lambda: route_dev(lab, "hl", dst) == "up-p")
        assert back.lost <= 2, back  # failback loses (almost) nothing
        print(f"cut: {outage.summary()}; restore: lost {back.lost}/{back.sent}")
    finally:
        lab.restore("hl/primary", wait=True)


def test_silent_failure_is_caught_by_bfd_within_the_measured_figure(lab: Lab) -> None:
    """Blackhole: links stay up; OSPF's dead timer alone would take 4 s, BFD ~0.3-0.55 s."""
    src, dst = "qf-cgz-h1", host_address(lab, "jwzh-app-1", 6)
    state = lab.run("qf", ["ip", "-br", "link", "show", "up-p"]).stdout
    assert " UP " in state
    try:
        outage = ping_through(
            lab.namespace(src), dst, lambda: lab.blackhole("qf/primary"), after_s=3.0
        )
        assert " UP " in lab.run("qf", ["ip", "-br", "link", "show", "up-p"]).stdout
        assert route_dev(lab, "qf", dst) == "up-b"
        # Well under OSPF's 4 s dead interval: only BFD can have seen it.
        assert 0.1 < outage.lost_run_s < 1.5, outage
        print(f"blackhole: {outage.summary()}")
    finally:
        lab.restore("qf/primary", wait=True)
    assert eventually(lambda: route_dev(lab, "qf", dst) == "up-p")


# 3 -------------------------------------------------------------------------


def test_snmpd_answers_v3_authpriv_only(lab: Lab) -> None:
    assert 'STRING: "hl"' in snmp(lab, "hl", "snmpget", "1.3.6.1.2.1.1.5.0")
    assert 'STRING: "hl"' in snmp(lab, "hl", "snmpget", "1.3.6.1.2.1.1.5.0", family=6)
    assert "ERROR" in snmp(lab, "hl", "snmpget", "1.3.6.1.2.1.1.5.0", **{"-X": "wrong-priv-key"})
    v2c = lab.run(
        "nms",
        [
            "snmpget",
            "-v2c",
            "-c",
            "public",
            "-t",
            "1",
            "-r",
            "0",
            lab.router_snmp_address("hl"),
            "1.3.6.1.2.1.1.5.0",
        ],
        check=False,
    )
    assert v2c.returncode != 0


def test_if_mib_counts_the_real_traffic_on_a_link(lab: Lab) -> None:
    node, ifname = lab.interface("qf/primary", "child")
    oid = f"{IF_HC_OUT_OCTETS}.{lab.ifindex(node, ifname)}"

    def octets() -> int:
        return int(snmp(lab, node, "snmpget", oid).split("Counter64:")[1])

    before = octets()
    dst = host_address(lab, "jwzh-app-1", 4)
    lab.run("qf-cgz-h1", ["ping", "-q", "-c", "50", "-i", "0.01", "-s", "1000", dst])
    # 50 x ~1 kB left qf towards the city on its primary (snmpd caches a few seconds)
    assert eventually(lambda: octets() - before >= 50_000)


def test_pysnmp_polls_a_router_from_a_thread_in_the_nms(lab: Lab) -> None:
    """What the collectors do: pysnmp 7 (asyncio), v3 authPriv, inside the NMS."""
    import asyncio
    import threading

    from pysnmp.hlapi.v3arch.asyncio import (
        ContextData,
        ObjectIdentity,
        ObjectType,
        SnmpEngine,
        UdpTransportTarget,
        UsmUserData,
        get_cmd,
        usmAesCfb128Protocol,
        usmHMAC192SHA256AuthProtocol,
    )

    cred = lab.snmp_v3("qf")
    assert (cred.auth_protocol, cred.priv_protocol) == ("sha256", "aes128")
    result: list[str] = []

    async def poll() -> None:
        engine = SnmpEngine()
        target = await UdpTransportTarget.create((lab.router_snmp_address("qf"), 161), timeout=2)
        user = UsmUserData(
            cred.user,
            cred.auth_key,
            cred.priv_key,
            authProtocol=usmHMAC192SHA256AuthProtocol,
            privProtocol=usmAesCfb128Protocol,
        )
        error, status, _, binds = await get_cmd(
            engine,
            user,
            target,
            ContextData(),
            ObjectType(ObjectIdentity("1.3.6.1.2.1.1.5.0")),
            lookupMib=False,
        )
        engine.close_dispatcher()
        result.append(str(error or status or binds[0][1]))

    def in_nms() -> None:
        with lab.entered("nms"):
            asyncio.run(poll())

    worker = threading.Thread(target=in_nms)
    worker.start()
    worker.join(30)
    assert result == ["qf"]


def test_cut_link_shows_oper_status_down_in_if_mib(lab: Lab) -> None:
    node, ifname = lab.interface("hl-zyl/primary", "child")
    oid = f"{IF_OPER_STATUS}.{lab.ifindex(node, ifname)}"
    assert "INTEGER: 1" in snmp(lab, node, "snmpget", oid)
    try:
        lab.cut("hl-zyl/primary")
        # snmpd caches interface data for a few seconds
        assert eventually(lambda: "INTEGER: 2" in snmp(lab, node, "snmpget", oid))
    finally:
        lab.restore("hl-zyl/primary", wait=True)
    assert eventually(lambda: "INTEGER: 1" in snmp(lab, node, "snmpget", oid))


def test_blackholed_link_loses_its_ospf_neighbour_in_ospf_mib(lab: Lab) -> None:
    cable = lab.plan.cable("hl/backup")
    parent_end = next(i for i in lab.plan.router("py").interfaces if i.name == cable.parent_if)
    peer = parent_end.addresses[0].split("/")[0]
    row = f"{OSPF_NBR_STATE}.{peer}.0"
    assert f"{row} = INTEGER: 8" in snmp(lab, "hl", "snmpwalk", OSPF_NBR_STATE)  # full
    v3_before = snmp(lab, "hl", "snmpwalk", OSPFV3_NBR_STATE).count("INTEGER: 8")
    assert v3_before >= 2  # OSPFv3 neighbours (py on both links, hl-zyl on both)
    try:
        lab.blackhole("hl/backup")
        assert eventually(lambda: row not in snmp(lab, "hl", "snmpwalk", OSPF_NBR_STATE))
        assert eventually(
            lambda: snmp(lab, "hl", "snmpwalk", OSPFV3_NBR_STATE).count("INTEGER: 8") < v3_before
        )
        # ...while IF-MIB still reports the interface up: only OSPF-MIB shows it
        ifindex = lab.ifindex("hl", cable.child_if)
        assert "INTEGER: 1" in snmp(lab, "hl", "snmpget", f"{IF_OPER_STATUS}.{ifindex}")
    finally:
        lab.restore("hl/backup", wait=True)
    assert eventually(lambda: f"{row} = INTEGER: 8" in snmp(lab, "hl", "snmpwalk", OSPF_NBR_STATE))


# 4 -------------------------------------------------------------------------


def test_ssh_with_the_lab_key_works_to_every_host(lab: Lab) -> None:
    for host in lab.hosts:
        for family in (4, 6):
            done = lab.ssh(host.name, "hostname", family=family)
            assert done.stdout.strip() == host.name[:63]
        operator = lab.ssh(host.name, "sudo -n id -u", user="yunwang")
        assert operator.stdout.strip() == "0"


def test_ssh_and_ansible_reach_hosts_from_the_machine_through_the_proxy(lab: Lab) -> None:
    """No route into the lab on the machine: ssh hops in through the NMS namespace."""
    for host in lab.hosts[:2]:
        for family in (4, 6):
            done = subprocess.run(
                [*lab.ssh_argv(host.name, family=family), "hostname"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert done.stdout.strip() == host.name, done.stderr
    inventory = lab.ansible_inventory()
    common = inventory["all"]["vars"]
    assert set(inventory["all"]["hosts"]) == {h.name for h in lab.hosts}
    assert "zone_gov_extranet" in inventory["all"]["children"]
    # Connect exactly as Ansible's ssh plugin would with these vars.
    hostvars = next(iter(inventory["all"]["hosts"].values()))
    argv = [
        "ssh",
        "-i",
        common["ansible_ssh_private_key_file"],
        *shlex.split(common["ansible_ssh_common_args"]),
        f"{common['ansible_user']}@{hostvars['ansible_host']}",
        "sudo -n /usr/bin/python3 -V",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0 and done.stdout.startswith("Python 3"), done.stderr


def test_a_host_survives_a_playbook_restarting_sshd(lab: Lab) -> None:
    host = lab.hosts[-1].name
    lab.ssh(host, "kill -TERM $(cat /run/sshd.pid)", check=False)
    assert eventually(lambda: lab.ssh(host, "true", check=False).returncode == 0)
    assert all(h.sshd for h in lab.status().hosts)


def test_hosts_have_their_own_writable_root(lab: Lab) -> None:
    """A host's changes stay in its overlay (what hardening playbooks rely on)."""
    first, second = lab.hosts[0].name, lab.hosts[1].name
    lab.ssh(first, "echo hardened > /etc/yunwang-marker")
    assert lab.ssh(first, "cat /etc/yunwang-marker").stdout.strip() == "hardened"
    assert lab.ssh(second, "test -e /etc/yunwang-marker", check=False).returncode != 0
    assert "ipv6" in lab.ssh(first, "ls /proc/sys/net").stdout  # /proc and /sys are mounted


# chaos verbs beyond the acceptance list ----------------------------------------


def test_throttle_caps_real_throughput_without_failing_over(lab: Lab) -> None:
    src, dst = lab.namespace("qf-cgz-h1"), lab.namespace("jwzh-app-1")
    address = host_address(lab, "jwzh-app-1", 4)
    free = tcp_throughput(src, dst, address)
    try:
        lab.throttle("qf-cgz/primary", 20_000_000)
        capped = tcp_throughput(src, dst, address)
        assert route_dev(lab, "qf-cgz", address) == "up-p"  # BFD survived the full queue
    finally:
        lab.restore("qf-cgz/primary", wait=True)
    print(f"throughput {free / 1e6:.0f} Mbit/s free, {capped / 1e6:.1f} Mbit/s at a 20 Mbit/s cap")
    assert capped <= 22_000_000 < free


def test_throttle_caps_the_link_below_what_it_is_owed(lab: Lab) -> None:
    cable = lab.plan.cable("qf-cgz/primary")
    try:
        rate = lab.throttle("qf-cgz/primary")
        assert rate == cable.bandwidth_bps // 2
        classes = lab.run(cable.child, ["tc", "class", "show", "dev", cable.child_if]).stdout
        assert "htb" in classes and "50Mbit" in classes
        status = {lk.link: lk.state for lk in lab.status().links}
        assert status["qf-cgz/primary"].startswith("throttled")
    finally:
        lab.restore("qf-cgz/primary", wait=True)
    assert "htb" not in lab.run(cable.child, ["tc", "qdisc", "show", "dev", cable.child_if]).stdout


def test_partition_isolates_a_node_and_restore_heals_it(lab: Lab) -> None:
    dst = host_address(lab, "qf-cgz-h1", 4)
    try:
        lab.partition("qf-cgz")
        assert lab.run("jwzh-app-1", ["ping", "-c", "1", "-W", "1", dst], check=False).returncode
        assert {lk.state for lk in lab.status().links if "qf-cgz" in lk.link} == {"cut"}
    finally:
        lab.restore("qf-cgz", wait=True)
    assert eventually(
        lambda: (
            lab.run("jwzh-app-1", ["ping", "-c", "1", "-W", "1", dst], check=False).returncode == 0
        )
    )


def test_status_reports_every_agent_and_full_adjacencies(lab: Lab) -> None:
    report = lab.status()
    assert report.phase == "up"
    assert all(r.daemons == "4/4" and r.snmpd for r in report.routers)
    for router in report.routers:
        links = [i for i in lab.plan.router(router.node).interfaces if i.kind == "link"]
        assert router.ospf_full == len(links) == router.ospf6_full
    assert all(lk.state == "up" for lk in report.links)
    assert all(h.sshd for h in report.hosts)


def test_estate_addresses_translate_to_what_the_lab_configured(lab: Lab) -> None:
    from estate import load

    estate = load(lab.plan.estate)
    device = estate.node("hl").devices[0]
    assert lab.lab_address(device.mgmt4) == lab.router_snmp_address("hl")
    assert lab.lab_address(device.mgmt6) == lab.router_snmp_address("hl", family=6)


def test_python_sockets_can_run_inside_the_nms(lab: Lab) -> None:
    """`entered` moves only the calling thread: a poller thread lives in the NMS."""
    import socket
    import threading

    address = host_address(lab, "qf-cgz-h1", 6)
    banner: list[bytes] = []
    namespaces: list[str] = []

    def poll() -> None:
        with lab.entered("nms"):
            namespaces.append(os.readlink("/proc/thread-self/ns/net"))
            with socket.create_connection((address, 22), timeout=5) as conn:
                banner.append(conn.recv(64))
        namespaces.append(os.readlink("/proc/thread-self/ns/net"))

    home = os.readlink("/proc/thread-self/ns/net")
    worker = threading.Thread(target=poll)
    worker.start()
    worker.join(10)
    assert banner and banner[0].startswith(b"SSH-2.0-OpenSSH")
    # inside the block the thread was elsewhere; after it, and this thread all along, home
    assert namespaces[0] != home and namespaces[1] == home
    assert os.readlink("/proc/thread-self/ns/net") == home
