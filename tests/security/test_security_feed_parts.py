"""The feed's parts without a node: credentials by reference, silence, the loop's schedule."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from estate import load
from security.events import Context, Event
from security.feed import Producer
from security.feed_reader import Checkpoint
from security.fleet import Fleet
from security.store import StoreError
from security.store.es_auth import client_options
from tests.waiting import wait_until
from yunwang import watch_loop
from yunwang.watch_loop import EventQueue, Schedule

SMALL = Path(__file__).resolve().parents[2] / "examples" / "small.yaml"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_secrets_come_by_reference_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(StoreError, match="api_key_env=VARIABLE or api_key_file=PATH"):
        client_options({"api_key": "c2VjcmV0"})
    with pytest.raises(StoreError, match="variable YW_KEY is not set"):
        client_options({"api_key_env": "YW_KEY"})
    monkeypatch.setenv("YW_KEY", "c2VjcmV0")
    assert client_options({"api_key_env": "YW_KEY"}) == {"api_key": "c2VjcmV0"}
    secret = tmp_path / "pass"
    secret.write_text("hunter2\n")
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    options = client_options({"user": "hl-tap", "password_file": str(secret), "ca_file": str(ca)})
    assert options == {"basic_auth": ("hl-tap", "hunter2"), "ca_certs": str(ca)}
    with pytest.raises(StoreError, match="not both"):
        client_options({"api_key_env": "YW_KEY", "user": "x", "password_file": str(secret)})
    with pytest.raises(StoreError, match=r"ca_file: .*no such file"):
        client_options({"ca_file": str(tmp_path / "none.pem")})


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _beat(producer: Producer, interval_s: float, at_s: float) -> Event:
    return replace(producer.heartbeat(interval_s), timestamp=_at(at_s))


def test_declared_producers_go_silent_and_come_back() -> None:
    estate = load(SMALL)
    fleet = Fleet.from_estate(estate, started=T0, grace=timedelta(seconds=15))
    sensor = Producer("hl-tap", "sensor", "hl")
    assert fleet.tick(_at(194)) == []  # 3 x 60 s (the default before a heartbeat) + the grace
    silent = fleet.tick(_at(196))
    assert {dict(e.labels)["producer"] for e in silent} == {"hl-tap", "poller-hl", "poller-qf"}
    assert all(e.context.state == "silent" for e in silent)
    fleet.observe([_beat(sensor, 10.0, 200)])
    back = fleet.tick(_at(201))
    assert [(dict(e.labels)["producer"], e.context.state) for e in back] == [("hl-tap", "alive")]
    assert fleet.tick(_at(244)) == []
    again = fleet.tick(_at(246))  # its own 10 s interval, three missed, and the grace
    assert [dict(e.labels)["producer"] for e in again] == ["hl-tap"]
    assert fleet.silent() == ["hl-tap", "poller-hl", "poller-qf"]


def test_an_unreadable_store_makes_nobody_silent() -> None:
    """While the centre cannot read the store, producers' heartbeats wait in
    their spools: silence counts again from the first read after it is back."""
    sensor = Producer("hl-tap", "sensor", "hl")
    fleet = Fleet([sensor], started=T0, grace=timedelta(seconds=5))
    fleet.observe([_beat(sensor, 1.0, 10)])
    assert fleet.tick(_at(11)) == []
    fleet.unheard()  # the store went away at 12 s, for 100 s
    back = _at(112)
    assert fleet.tick(back) == []
    assert fleet.tick(back + timedelta(seconds=7.9)) == []  # 3 x 1 s + 5 s from `back`
    silent = fleet.tick(back + timedelta(seconds=8.1))  # and no spooled heartbeat came
    assert [(dict(e.labels)["producer"], e.context.state) for e in silent] == [("hl-tap", "silent")]
    assert "no heartbeat for 110 s" in silent[0].message  # the real silence, reported
    fleet.unheard()  # another outage: a silent producer stays silent after it
    assert fleet.tick(back + timedelta(seconds=30)) == []
    assert fleet.silent() == ["hl-tap"]


def test_a_producer_places_what_it_ships_in_its_county() -> None:
    scan = Event(timestamp=T0, dataset="yunwang.packets", action="port-scan", message="scan")
    tagged = Producer("hl-tap", "sensor", "hl").tag(scan)
    assert tagged.context.county == "hl" and dict(tagged.labels)["shipped_by"] == "hl-tap"
    placed = replace(scan, context=Context(county="qf"))
    assert Producer("hl-tap", "sensor", "hl").tag(placed).context.county == "qf"
    assert Producer("poller", "poller").tag(scan).context.county is None


def test_a_damaged_checkpoint_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "feed.json"
    path.write_text('{"cursor": "yesterday"}')
    with pytest.raises(StoreError, match=r"feed\.json: feed checkpoint: expected cursor and seen"):
        Checkpoint.load(path, T0)
    path.write_text("{")
    with pytest.raises(StoreError, match=r"feed\.json: feed checkpoint unreadable"):
        Checkpoint.load(path, T0)


class FakeClock:
    """Stands in for watch_loop's time.monotonic and asyncio.sleep: exact, never slow."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_schedule_measures_lateness_and_skips_missed_instants(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A fake clock: on a loaded machine real sleeps overrun by any amount.
    clock = FakeClock()
    monkeypatch.setattr(watch_loop, "time", SimpleNamespace(monotonic=clock.monotonic))
    monkeypatch.setattr(watch_loop, "asyncio", SimpleNamespace(sleep=clock.sleep))
    schedule = Schedule(0.2, clock.monotonic())
    stop = threading.Event()
    assert asyncio.run(schedule.wait(stop)) == pytest.approx(0.0, abs=0.1)
    clock.now += 0.5  # a cycle that overran two instants
    lateness = asyncio.run(schedule.wait(stop))
    assert lateness is not None and lateness >= 0.25
    assert schedule.next > clock.monotonic()  # no bunched-up catch-up cycles
    assert asyncio.run(schedule.wait(stop)) == pytest.approx(0.0)  # sleeps to the next instant
    stop.set()
    assert asyncio.run(schedule.wait(stop)) is None


def test_the_queue_makes_the_sensor_wait_but_never_the_poller() -> None:
    queue = EventQueue(limit=2)
    beat = Producer("p", "poller").heartbeat(1.0)
    queue.put(beat)
    queue.put(beat)
    queue.put_now([beat, beat])  # the poller: beyond the limit, at once
    assert len(queue) == 4
    waiting = threading.Thread(target=queue.put, args=(beat,))
    waiting.start()
    wait_until(lambda: queue.waits == 1, 10, "the sensor's put to wait for room")
    assert waiting.is_alive()
    assert len(queue.take(limit=3)) == 3
    waiting.join(2)
    assert not waiting.is_alive() and len(queue) == 2


def test_an_inline_secret_in_store_is_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "yunwang", "sense", str(SMALL), "--pcap", str(tmp_path / "x.pcap"),
         "--store", "http://127.0.0.1:9/?api_key=c2VjcmV0"],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "YUNWANG_HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "--store: store url: api_key: give api_key_env=VARIABLE or api_key_file=PATH, "
        "never the secret"
    )


def test_a_store_url_is_checked_before_anything_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from security.store import check_url

    for url, said in (("http://127.0.0.1:9/?password=x&user=u", "password: give password_env"),
                      ("ftp://x", "expected sqlite:///PATH or http://HOST:PORT"),
                      ("http://127.0.0.1:9/?api_key_env=YW_TEST_UNSET", "YW_TEST_UNSET is not set")):  # fmt: skip
        with pytest.raises(StoreError, match=said):
            check_url(url)
    monkeypatch.setenv("YW_TEST_KEY", "k")
    check_url("http://127.0.0.1:9/?api_key_env=YW_TEST_KEY")  # nothing listens there: not asked
    check_url(f"sqlite:///{tmp_path / 'never-made.db'}")
    assert not (tmp_path / "never-made.db").exists()
