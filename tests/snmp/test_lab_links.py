"""End to end on the real lab (FRR routers, snmpd + AgentX, veth links):
cut a county primary -> `failover` within one poll interval, with an event;
restore -> `normal`; blackhole (silent failure) -> `failover`; cut both ->
`isolated`. The collector runs in the lab's NMS namespace, v3 authPriv."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from lab.lab import Lab
from lab.testing import lab_session
from monitors.exporter import CollectionCollector
from monitors.links import PairState
from monitors.snmp.collection import Snapshot
from security.events import Event
from tests.lab_slice import (
    SMALL,
    default_sigint,
    secrets_in_env,
    slice_collection,
    yunwang_env,
    yunwang_in_nms,
)
from tests.snmp.agents import free_udp_port

pytestmark = pytest.mark.lab
# The interval a deployment would use for the lab's scale; snmpd caches
# interface state 3-5 s, so a change shows in the poll after that.
POLL_INTERVAL_S = 8.0
POLL_EVERY_S = 1.0

# The default slice (as tests/lab and tests/traps/test_lab_traps.py), up for this module only.
lab = lab_session(SMALL, scope="module")


class Driver:
    """Runs collection cycles inside the NMS namespace and keeps the events."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.events: list[Event] = []
        self.collection = slice_collection(lab, sink=self.events.append)
        self.loop = asyncio.new_event_loop()

    def cycle(self) -> Snapshot:
        with self.lab.entered("nms"):
            return self.loop.run_until_complete(self.collection.cycle())

    def state(self, snapshot: Snapshot, pair: str) -> PairState:
        return next(v.state for v in snapshot.views if v.pair.id == pair)

    def until(self, pair: str, wanted: PairState, within_s: float) -> tuple[Snapshot, float]:
        started = time.monotonic()
        while True:
            snapshot = self.cycle()
            elapsed = time.monotonic() - started
            if self.state(snapshot, pair) == wanted:
                return snapshot, elapsed
            if elapsed > within_s:
                views = {v.pair.id: (v.state, v.reason) for v in snapshot.views}
                devices = {p.device: (p.state, p.error) for p in snapshot.polls.values()}
                raise AssertionError(
                    f"{pair} not {wanted} after {elapsed:.1f}s: {views}; devices {devices}; "
                    f"unmatched {[str(u) for u in snapshot.unmatched]}"
                )
            time.sleep(POLL_EVERY_S)

    def close(self) -> None:
        with self.lab.entered("nms"):
            self.collection.close()
        self.loop.close()


@pytest.fixture(scope="module")
def driver(lab: Lab) -> Iterator[Driver]:
    with secrets_in_env():
        lab.restore(wait=True)
        made = Driver(lab)
        yield made
        made.close()


def _event(driver: Driver, pair: str, state: str) -> Event:
    found = [e for e in driver.events if e.context.pair == pair and e.context.state == state]
    assert found, [e.message for e in driver.events]
    return found[-1]


def _healed(lab: Lab, driver: Driver, pairs: tuple[str, ...]) -> Callable[[], None]:
    def heal() -> None:
        lab.restore(wait=True)
        for pair in pairs:
            driver.until(pair, "normal", 30)

    return heal


def test_every_lab_pair_reads_normal_and_every_link_is_mapped(driver: Driver) -> None:
    snapshot, _ = driver.until("hl", "normal", 30)
    for pair in ("hl", "qf", "hl-zyl", "qf-cgz"):
        assert driver.state(snapshot, pair) == "normal", snapshot.views
    assert all(p.state != "unreachable" for p in snapshot.polls.values())
    hl = next(v for v in snapshot.views if v.pair.id == "hl")
    assert hl.primary.neighbour_full is True and hl.backup.neighbour_full is True
    # Linux ifnames can't carry "XGigabitEthernet0/0/1" and net-snmp does not
    # show the kernel's ifalias: the link's own address in ipAddrTable does it.
    assert {end.matched_by for end in hl.primary.ends} == {"ipAddress"}


def test_cut_primary_fails_over_within_one_poll_and_restore_returns(
    lab: Lab, driver: Driver
) -> None:
    driver.until("hl", "normal", 30)
    try:
        lab.cut("hl/primary")
        snapshot, elapsed = driver.until("hl", "failover", POLL_INTERVAL_S)
        view = next(v for v in snapshot.views if v.pair.id == "hl")
        # BFD drops the OSPF neighbour within a second, often before snmpd's
        # interface cache (3-5 s) shows ifOperStatus down: either counts.
        assert view.primary.up is False or view.primary.silent_failure
        assert view.backup.up is True
        event = _event(driver, "hl", "failover")
        assert event.dataset == "yunwang.links" and event.context.county == "hl"
        assert event.context.level == "county" and event.context.link == "hl/backup"
        print(f"cut -> failover seen after {elapsed:.1f}s")
    finally:
        lab.restore("hl/primary", wait=True)
    _snapshot, elapsed = driver.until("hl", "normal", POLL_INTERVAL_S + 10)
    assert _event(driver, "hl", "normal").severity < _event(driver, "hl", "failover").severity


def test_blackholed_primary_is_a_silent_failure_read_as_failover(lab: Lab, driver: Driver) -> None:
    driver.until("qf", "normal", 30)
    try:
        lab.blackhole("qf/primary")
        snapshot, elapsed = driver.until("qf", "failover", POLL_INTERVAL_S)
        view = next(v for v in snapshot.views if v.pair.id == "qf")
        assert view.primary.up is True  # IF-MIB still says up...
        assert view.primary.silent_failure  # ...OSPF says otherwise
        assert "OSPF" in view.reason
        print(f"blackhole -> failover seen after {elapsed:.1f}s")
    finally:
        lab.restore("qf/primary", wait=True)
    driver.until("qf", "normal", POLL_INTERVAL_S + 10)


def test_cutting_both_links_isolates_the_node(lab: Lab, driver: Driver) -> None:
    driver.until("hl-zyl", "normal", 30)
    try:
        lab.cut("hl-zyl/primary")
        lab.cut("hl-zyl/backup")
        driver.until("hl-zyl", "isolated", POLL_INTERVAL_S)
        event = _event(driver, "hl-zyl", "isolated")
        assert event.context.township == "hl-zyl" and event.kind == "alert"
    finally:
        lab.restore("hl-zyl", wait=True)
    driver.until("hl-zyl", "normal", POLL_INTERVAL_S + 10)


def test_a_link_going_down_and_up_twice_is_flapping(lab: Lab, driver: Driver) -> None:
    link = "qf-cgz/primary"
    driver.until("qf-cgz", "normal", 30)
    try:
        lab.cut(link)
        driver.until("qf-cgz", "failover", POLL_INTERVAL_S)
        lab.restore(link, wait=True)
        driver.until("qf-cgz", "normal", POLL_INTERVAL_S + 10)
        lab.cut(link)
        driver.until("qf-cgz", "failover", POLL_INTERVAL_S)
        lab.restore(link, wait=True)
        # Fourth change of the same link within the window: flapping, not normal.
        driver.until("qf-cgz", "flapping", POLL_INTERVAL_S + 10)
        assert _event(driver, "qf-cgz", "flapping").context.township == "qf-cgz"
    finally:
        lab.restore(link, wait=True)


def test_exporter_renders_links_pairs_interfaces_and_itself(driver: Driver) -> None:
    registry = CollectorRegistry()
    registry.register(CollectionCollector(driver.collection))
    driver.until("hl", "normal", 30)
    time.sleep(POLL_EVERY_S)
    driver.cycle()  # a second sample: rates exist from here on
    text = generate_latest(registry).decode()
    hl = 'county="hl",level="county",link="hl/primary",pair="hl",role="primary",township=""'
    assert f"yunwang_link_up{{{hl}}} 1.0" in text
    assert f"yunwang_link_ospf_neighbour_full{{{hl}}} 1.0" in text
    assert f"yunwang_link_owed_bandwidth_bits_per_second{{{hl}}} 1e+09" in text
    assert f"yunwang_link_receive_bits_per_second{{{hl}}} " in text  # rate after two polls
    assert (
        'yunwang_link_pair_state{county="hl",level="county",pair="hl",state="normal",township=""} 1.0'
        in text
    )
    assert (
        'yunwang_link_pair_state{county="hl",level="county",pair="hl",state="failover",township=""} 0.0'
        in text
    )
    assert 'yunwang_interface_receive_bytes_total{device="hl-agg-1"' in text
    assert 'yunwang_snmp_device_state{device="hl-agg-1",state="reachable"} 1.0' in text
    assert "yunwang_snmp_poll_duration_seconds{" in text
    assert "yunwang_exporter_scrape_duration_seconds " in text


def test_collect_once_json_from_the_nms(lab: Lab, tmp_path: Path) -> None:
    env = yunwang_env(tmp_path / "home")
    done = subprocess.run(
        yunwang_in_nms(lab, "collect", str(SMALL), "--once", "--json", "--lab-dir", str(lab.directory)),
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    pairs = {p["pair"]: p for p in report["pairs"]}
    assert pairs["hl"]["state"] == "normal", pairs["hl"]
    assert pairs["hl"]["links"]["primary"]["ospf_neighbour_full"] is True
    assert pairs["hl-ycz"]["state"] == "unknown"  # outside the lab's slice
    polled = {d["device"] for d in report["devices"]}
    assert "hl-agg-1" in polled and "hl-ycz-r1" not in polled
    assert any("hl-ycz/primary" in line for line in report["unmatched"])


def test_collect_serves_metrics_on_loopback_until_interrupted(lab: Lab, tmp_path: Path) -> None:
    env = yunwang_env(tmp_path / "home")
    port = free_udp_port()  # a free number; TCP on the NMS's loopback is as free
    process = subprocess.Popen(
        yunwang_in_nms(lab, "collect", str(SMALL), "--lab-dir", str(lab.directory), "--port", str(port)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=default_sigint,
    )  # fmt: skip
    try:
        body = ""
        deadline = time.monotonic() + 30
        while "yunwang_link_pair_state{" not in body and time.monotonic() < deadline:
            time.sleep(0.5)
            with lab.entered("nms"), contextlib.suppress(OSError):
                url = f"http://127.0.0.1:{port}/metrics"
                with urllib.request.urlopen(url, timeout=5) as answer:
                    body = answer.read().decode()
        assert (
            'yunwang_link_pair_state{county="hl",level="county",pair="hl",state="normal",township=""} 1.0'
            in body
        )
        listening = lab.run("nms", ["ss", "-ltnH", f"sport = :{port}"]).stdout
        local = {line.split()[3] for line in listening.splitlines()}
        assert local == {f"127.0.0.1:{port}"}  # loopback only, by default
    finally:
        process.send_signal(signal.SIGINT)
        # communicate() drains the pipes: a child blocked writing to a full
        # pipe cannot act on its Ctrl-C. Never leave it running.
        try:
            _, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
            raise AssertionError(f"collect ignored Ctrl-C for 30 s: {stderr[-2000:]}") from None
    assert process.returncode == 0, stderr[-2000:]


def test_a_county_shard_polls_and_judges_only_its_county(lab: Lab, tmp_path: Path) -> None:
    env = yunwang_env(tmp_path / "home")
    done = subprocess.run(
        yunwang_in_nms(lab, "collect", str(SMALL), "--once", "--json", "--lab-dir", str(lab.directory),
         "--county", "qf"),
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {d["device"] for d in report["devices"]} == {"qf-agg-1", "qf-agg-2", "qf-cgz-r1",
                                                        "qf-cgz-v001-r1"}  # fmt: skip
    pairs = {p["pair"]: p["state"] for p in report["pairs"]}
    assert set(pairs) == {"qf", "qf-cgz", "qf-mzq"}
    assert pairs["qf"] == "normal" and pairs["qf-cgz"] == "normal"
    assert not any(line.startswith("hl") for line in report["unmatched"])
