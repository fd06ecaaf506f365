"""Warnings saved outside the grading lock: in order, coalesced, bounded, retried."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from sec_helpers import T0, make_event

from security.pipeline import Pipeline
from security.store import StoreError
from security.store.sqlite import SqliteStore
from security.warnings import Warning


class GatedStore(SqliteStore):
    """The real SQLite store, whose warning saves wait at a gate (a slow store) or fail (down)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.down = False
        self.saves: list[list[tuple[str, int]]] = []

    def put_warnings(self, warnings: Sequence[Warning]) -> None:
        self.entered.set()
        self.gate.wait(30)
        if self.down:
            raise StoreError("store down")
        self.saves.append([(w.id, w.count) for w in warnings])
        super().put_warnings(warnings)


def scan(n: int, source: int) -> object:
    return make_event(n, "yunwang.packets", "port-scan", "scan", src=f"198.19.0.{source}")


def wait_until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_grading_goes_on_while_a_save_is_under_way(tmp_path: Path) -> None:
    store = GatedStore(tmp_path / "e.db")
    pipeline = Pipeline(store, clock=lambda: T0)
    store.gate.clear()
    store.entered.clear()
    first = threading.Thread(target=pipeline.submit, args=([scan(0, 1)],))
    first.start()
    assert store.entered.wait(10)  # the first submit is inside put_warnings
    # The grading lock is free: another thread grades and reads meanwhile.
    done = threading.Event()

    def second() -> None:
        pipeline.submit([scan(1, 1), scan(2, 2)])
        done.set()

    threading.Thread(target=second).start()
    wait_until(lambda: len(pipeline.active_warnings()) == 2)
    assert {w.count for w in pipeline.active_warnings()} == {2, 1}
    assert not done.is_set()  # its save waits for the one under way: versions in order
    store.gate.set()
    first.join(10)
    assert done.wait(10)
    stored = {w.key: w.count for w in store.find_warnings(status=["open"])}
    assert stored == {"source.ip=198.19.0.1": 2, "source.ip=198.19.0.2": 1}
    pipeline.close()


def test_a_busy_store_saves_each_warning_once_in_its_latest_version(tmp_path: Path) -> None:
    store = GatedStore(tmp_path / "e.db")
    pipeline = Pipeline(store, clock=lambda: T0)
    pipeline.writer.start()
    store.gate.clear()
    store.entered.clear()
    pipeline.submit([scan(0, 1)])
    assert store.entered.wait(10)  # the writer holds the first version in a save
    for n in range(1, 6):
        pipeline.submit([scan(n, 1), scan(n, 2)])
    store.gate.set()
    pipeline.settle()
    assert [c for _, c in store.saves[0]] == [1]
    # Five batches graded during the first save: one more save, latest versions only.
    assert len(store.saves) == 2 and sorted(c for _, c in store.saves[1]) == [5, 6]
    stored = {w.key: w.count for w in store.find_warnings(status=["open"])}
    assert stored == {"source.ip=198.19.0.1": 6, "source.ip=198.19.0.2": 5}
    pipeline.close()


def test_the_backlog_is_bounded_and_back_pressure_is_counted(tmp_path: Path) -> None:
    store = GatedStore(tmp_path / "e.db")
    pipeline = Pipeline(store, clock=lambda: T0)
    pipeline.writer.limit = 3
    pipeline.writer.start()
    store.gate.clear()
    store.entered.clear()
    pipeline.submit([scan(0, 1)])
    assert store.entered.wait(10)
    pipeline.submit([scan(1, 2), scan(1, 3), scan(1, 4)])  # three pending: the limit
    assert len(pipeline.writer) == 3 and pipeline.writer.waits == 0
    blocked = threading.Thread(target=pipeline.submit, args=([scan(2, 5)],))
    blocked.start()
    wait_until(lambda: pipeline.writer.waits == 1)
    assert blocked.is_alive() and len(pipeline.writer) == 3  # waits, nothing dropped
    # It waits before grading, not under the grading lock: scrapes and reads go on.
    assert len(pipeline.active_warnings()) == 4
    registry = CollectorRegistry()
    registry.register(pipeline.collector())
    text = generate_latest(registry).decode()
    assert "yunwang_warning_writer_waits_total 1.0" in text
    assert "yunwang_warning_writes_pending 3.0" in text
    store.gate.set()
    blocked.join(10)
    assert not blocked.is_alive()
    pipeline.settle()
    assert len(store.find_warnings(status=["open"])) == 5
    pipeline.close()


def test_a_store_down_never_stalls_grading_and_loses_no_warning(tmp_path: Path) -> None:
    store = GatedStore(tmp_path / "e.db")
    pipeline = Pipeline(store, clock=lambda: T0)
    pipeline.writer.limit = 2
    pipeline.writer.start()
    store.down = True
    pipeline.submit([scan(0, 1)])
    pipeline.settle()  # the first save failed
    for n in range(1, 10):  # far past the limit: the store is failing, so grading does not wait
        pipeline.submit([scan(n, n + 1)])
    pipeline.settle()
    assert pipeline.writer.waits == 0 and pipeline.store_errors >= 1
    assert len(pipeline.writer) == 10 and store.find_warnings(status=["open"]) == []
    store.down = False  # back: the writer's retry saves every warning
    wait_until(lambda: len(store.find_warnings(status=["open"])) == 10)
    assert len(pipeline.writer) == 0
    pipeline.close()


def test_a_closed_pipeline_has_written_everything(tmp_path: Path) -> None:
    store = GatedStore(tmp_path / "e.db")
    pipeline = Pipeline(store, clock=lambda: T0)
    pipeline.writer.start()
    pipeline.submit([scan(n, n % 7 + 1) for n in range(50)])
    pipeline.close()
    again = SqliteStore(tmp_path / "e.db")
    assert sum(w.count for w in again.find_warnings(status=["open"])) == 50
    again.close()
