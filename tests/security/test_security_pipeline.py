"""The pipeline `yunwang watch` drives: store, warnings, acks from elsewhere, restart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sec_helpers import T0, make_event

from security.pipeline import Pipeline, acknowledge_stored
from security.store.sqlite import SqliteStore


def county(seconds: float, state: str, name: str = "hl"):  # type: ignore[no-untyped-def]
    return make_event(seconds, pair=name, node=name, level="county", state=state, county=name)


def test_events_and_warnings_are_stored(tmp_path: Path) -> None:
    pipeline = Pipeline(SqliteStore(tmp_path / "e.db"), clock=lambda: T0)
    changes = pipeline.submit([county(0, "failover"), county(1, "failover"), county(2, "isolated")])
    assert [c.kind for c in changes] == ["opened", "updated", "opened"]
    pipeline.tick(T0)
    stored = pipeline.store.find_warnings(status=["open"])
    assert {w.rule_id: w.count for w in stored} == {"YW-LINK-001": 2, "YW-LINK-002": 1}
    assert pipeline.store.count_events() == 3
    assert pipeline.events_total["yunwang.links"] == 3
    pipeline.close()


def test_an_acknowledgement_made_elsewhere_reaches_the_running_pipeline(tmp_path: Path) -> None:
    clock = [T0]
    pipeline = Pipeline(SqliteStore(tmp_path / "e.db"), clock=lambda: clock[0])
    [opened] = pipeline.submit([county(0, "failover")])
    operator = SqliteStore(tmp_path / "e.db")  # what `yunwang warnings --ack` opens
    acknowledge_stored(operator, opened.warning.id, "alice", "carrier called")
    operator.close()
    clock[0] = T0 + timedelta(hours=1)
    assert pipeline.tick() == []  # acknowledged: no escalation
    [active] = pipeline.active_warnings()
    assert (active.status, active.ack_by) == ("acknowledged", "alice")
    # repeats still count on the acknowledged warning
    [repeat] = pipeline.submit([county(3700, "failover")])
    assert (
        repeat.warning.count == 2 and repeat.warning.status == "acknowledged" and not repeat.notify
    )
    pipeline.close()


def test_a_restarted_pipeline_resumes_warnings_and_posture(tmp_path: Path) -> None:
    first = Pipeline(SqliteStore(tmp_path / "e.db"), clock=lambda: T0)
    [opened] = first.submit([county(0, "isolated")])
    before = {(s.kind, s.name): s.score for s in first.scores()}
    first.close()
    again = Pipeline(SqliteStore(tmp_path / "e.db"), clock=lambda: T0)
    assert [w.id for w in again.active_warnings()] == [opened.warning.id]
    assert {(s.kind, s.name): s.score for s in again.scores()} == before
    [resolved] = again.submit([county(60, "normal")])
    assert resolved.kind == "resolved" and resolved.warning.id == opened.warning.id
    again.close()


def test_producers_on_many_threads_and_scrapes_meanwhile(tmp_path: Path) -> None:
    import threading

    from prometheus_client import CollectorRegistry, generate_latest

    pipeline = Pipeline(SqliteStore(tmp_path / "e.db"), clock=lambda: T0)
    registry = CollectorRegistry()
    registry.register(pipeline.collector())
    errors: list[BaseException] = []

    def produce(worker: int) -> None:
        try:
            for i in range(50):
                pipeline.submit([county(i, "failover", name=f"w{worker}-{i % 5}")])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        generate_latest(registry)
        pipeline.tick(T0)
    for t in threads:
        t.join()
    assert errors == []
    assert pipeline.store.count_events() == 200
    warnings = pipeline.store.find_warnings(status=["open"])
    assert len(warnings) == 20 and sum(w.count for w in warnings) == 200
    assert (
        'yunwang_warnings{status="open",warning_level="orange"} 20.0'
        in generate_latest(registry).decode()
    )
    pipeline.close()
