"""The Elasticsearch store and its spool under faults: per-item 429s, refusals,
torn lines, a full disk and crashes at the sync points. Real nodes, a real
file system (a tmpfs for the full disk), real SIGKILLs."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import EsNode, es_namespace, free_port
from prometheus_client import CollectorRegistry
from sec_helpers import make_event

from security.pipeline import Pipeline
from security.store.elastic import ElasticStore
from security.store.spool import Spool

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def strict_node() -> Iterator[EsNode]:
    """A node that pushes back: one write thread, a queue of one, 64 KB requests at most."""
    node = EsNode(
        Path(f"/tmp/yunwang-es-strict-{os.getpid()}"),
        settings={
            "thread_pool.write.size": "1",
            "thread_pool.write.queue_size": "1",
            "http.max_content_length": "64kb",
        },
    )
    node.start()
    try:
        yield node
    finally:
        node.stop(keep_data=False)


def _write_rejections(store: ElasticStore) -> int:
    stats = store.client.nodes.stats(metric="thread_pool")
    return sum(n["thread_pool"]["write"]["rejected"] for n in stats["nodes"].values())


def _rejected_ids(spool: Spool) -> list[str]:
    if not spool.rejected_path.exists():
        return []
    return [json.loads(line)["doc"]["_id"] for line in spool.rejected_path.open()]


# -- item 8: results paired with events by _id --------------------------------


def test_per_item_429s_do_not_pair_results_with_the_wrong_event(
    strict_node: EsNode, tmp_path: Path
) -> None:
    store = ElasticStore(
        strict_node.url,
        namespace=es_namespace(),
        spool_dir=tmp_path / "spool",
        chunk_size=150,
        batch_size=10_000,
        initial_backoff=0.05,
    )
    # Four primaries: each bulk fans out into four shard requests, and a write
    # pool of one thread with a queue of one refuses some of them (per-item 429).
    name = f"logs-yunwang.events-{store.namespace}"
    [template] = store.client.indices.get_index_template(name=name)["index_templates"]
    body = template["index_template"]
    body["template"]["settings"]["index"]["number_of_shards"] = "4"
    store.client.indices.put_index_template(name=name, **body)
    good = [make_event(i, message=f"event {i}", link=f"l{i}") for i in range(300)]
    bad = [make_event(1000 + i, src="not-an-ip", message=f"bad {i}") for i in range(3)]
    batch = good[:50] + bad[:1] + good[50:150] + bad[1:2] + good[150:250] + bad[2:] + good[250:]
    before = _write_rejections(store)
    store.put_events(batch)
    store.flush()
    while store.spool:  # anything still refused after every retry comes back on the next flush
        store.flush()
    assert _write_rejections(store) > before, "the node answered some items with 429"
    assert sorted(_rejected_ids(store.spool)) == sorted(e.id for e in bad)
    assert store.rejected == 3 and store.count_events() == 300
    stored = {e.id for e in store.search(limit=1000)}
    assert stored == {e.id for e in good}
    store.close()


# -- item 12: a refusal for good is spooled and raises a warning -------------


def test_a_refused_request_is_spooled_and_warns_about_the_store(
    strict_node: EsNode, es_node: EsNode, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    namespace = es_namespace()
    store = ElasticStore(strict_node.url, namespace=namespace, spool_dir=tmp_path / "spool")
    pipeline = Pipeline(store)
    batch = [make_event(i, message=f"large {i} " + "x" * 500) for i in range(200)]
    with caplog.at_level(logging.WARNING, logger="security.store.elastic"):
        pipeline.submit(batch)
        pipeline.tick()  # 413: the request is larger than the node takes
        pipeline.submit([make_event(500, message="later")])
        pipeline.tick()
    refusals = [r.getMessage() for r in caplog.records if "bulk refused" in r.getMessage()]
    assert refusals == [
        f"{strict_node.url}: bulk refused (413: request larger than the node's "
        "http.max_content_length): 200 events spooled until it accepts them"
    ], "said once, however often it is retried"
    # 201 events and the store's own "refused" event, which is stored like any other
    assert len(store.spool) == 202 and store.health().refused_batches >= 2
    [warning] = [w for w in pipeline.active_warnings() if w.rule_id == "YW-STORE-001"]
    assert warning.level == "orange" and "refused" in warning.summary
    pipeline.close()
    # Pointed at a node that takes the requests, every spooled event arrives.
    fixed = ElasticStore(es_node.url, namespace=namespace, spool_dir=tmp_path / "spool")
    fixed.flush()
    assert not fixed.spool and fixed.count_events() == 202
    [own] = fixed.search(dataset="yunwang.store")
    assert own.context.state == "refused" and dict(own.labels)["status"] == "413"
    fixed.close()


# -- item 9: a torn line is quarantined, the rest replays --------------------


def _actions(n: int, start: int = 0) -> list[dict[str, object]]:
    return [
        {"_op_type": "create", "_index": "x", "_id": e.id, "_source": e.to_ecs()}
        for e in (make_event(start + i, message=f"spooled {start + i}") for i in range(n))
    ]


def _read_all(spool: Spool) -> list[str]:
    ids: list[str] = []
    while spool:
        docs, offset = spool.read(7)
        ids += [str(d["_id"]) for d in docs]
        spool.commit(offset)
    return ids


def test_a_torn_line_is_quarantined_and_the_rest_replays(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    first, second = _actions(10), _actions(10, 100)
    spool.append(first)
    with spool.path.open("ab") as handle:  # a write cut short, then more appended behind it
        handle.write(json.dumps(_actions(1, 50)[0]).encode()[:40] + b"\n")
        handle.write(b'[1, 2, 3]\n{"_id": 7}\n')
    spool.append(second)
    ids = _read_all(spool)
    assert ids == [str(a["_id"]) for a in first + second]
    assert spool.quarantined == 3
    lines = [json.loads(line) for line in spool.quarantine_path.open()]
    assert [q["reason"] for q in lines] == ["not a spooled event (torn or damaged line)"] * 3


def test_an_unfinished_last_line_is_cut_when_the_spool_opens(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(_actions(5))
    with spool.path.open("ab") as handle:  # the process died mid-write
        handle.write(json.dumps(_actions(1, 50)[0]).encode()[:60])
    reopened = Spool(tmp_path)
    reopened.append(_actions(5, 10))  # never glued onto the half record
    assert len(_read_all(reopened)) == 10 and reopened.quarantined == 1
    [tail] = [json.loads(line) for line in reopened.quarantine_path.open()]
    assert tail["reason"] == "unfinished write (crash or full disk)" and len(tail["line"]) == 60


def test_a_replay_skips_a_torn_line_into_elasticsearch(es_node: EsNode, tmp_path: Path) -> None:
    store = ElasticStore(
        f"http://127.0.0.1:{free_port()}", namespace=es_namespace(), spool_dir=tmp_path
    )
    events = [make_event(i, message=f"offline {i}") for i in range(20)]
    store.put_events(events[:10])
    store.flush()
    with store.spool.path.open("ab") as handle:
        handle.write(b'{"_op_type":"create","_id":"torn\n')
    store.put_events(events[10:])
    store.close()
    online = ElasticStore(es_node.url, namespace=store.namespace, spool_dir=tmp_path)
    online.flush()
    assert not online.spool and online.count_events() == 20
    assert online.health().quarantined_lines == 1
    online.close()


# -- item 11: crashes at the spool's sync points ------------------------------

_CRASH = """
import os, signal, sys
from pathlib import Path
import security.store.spool as spool_module
from security.store.spool import Spool

real_replace = os.replace

def replace(src, dst):
    if str(dst).endswith("events.offset"):
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)

spool_module.os.replace = replace
spool = Spool(Path(sys.argv[1]))
docs, offset = spool.read(int(sys.argv[2]))
spool.commit(offset)  # killed after the events file was emptied / before the offset moved
"""


def _crash_committing(directory: Path, chunk: int) -> int:
    return subprocess.run(
        [sys.executable, "-c", _CRASH, str(directory), str(chunk)], cwd=ROOT, check=False
    ).returncode


@pytest.mark.parametrize(
    ("chunk", "point"),
    [(100, "after the replayed file was emptied"), (4, "before the offset moved mid-file")],
)
def test_a_crash_while_committing_loses_nothing(tmp_path: Path, chunk: int, point: str) -> None:
    old = [str(a["_id"]) for a in _actions(10)]
    spool = Spool(tmp_path)
    spool.append(_actions(10))
    _, offset = spool.read(3)
    spool.commit(offset)  # an earlier chunk went through: the offset is not 0
    assert _crash_committing(tmp_path, chunk) == -signal.SIGKILL, point
    reopened = Spool(tmp_path)
    reopened.append(_actions(3, 100))  # what arrives after the restart
    ids = _read_all(reopened)
    # At most the chunk in flight is read again; Elasticsearch's ids make that a no-op.
    expected_old = [] if chunk >= 7 else old[3:]
    assert ids == expected_old + [str(a["_id"]) for a in _actions(3, 100)], point


# -- item 10: a full disk holds the batch in memory ---------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB file system (tmpfs), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


@pytest.mark.lab
def test_a_full_disk_keeps_the_batch_in_memory_and_retries(
    small_disk: Path, es_node: EsNode, caplog: pytest.LogCaptureFixture
) -> None:
    spool_dir = small_disk / "spool"
    offline = ElasticStore(
        f"http://127.0.0.1:{free_port()}",
        namespace=es_namespace(),
        spool_dir=spool_dir,
        batch_size=50,
    )
    pipeline = Pipeline(offline)
    events = [make_event(i, message=f"while the disk is full {i}") for i in range(300)]
    offline.put_events(events[:20])
    offline.flush()  # Elasticsearch is down: these reach the spool
    filler = _fill(small_disk)
    size_before = offline.spool.path.stat().st_size
    with caplog.at_level(logging.WARNING, logger="security.store.elastic"):
        for i in range(20, 300, 40):
            pipeline.submit(events[i : i + 40])
            pipeline.tick()
    assert offline.spool.path.stat().st_size == size_before, "no half-written batch left"
    health = offline.health()
    # 280 events and the store's own "spool-full" event, all kept in memory in order
    assert health.held_events == 281 and health.spool_write_errors >= 2
    registry = CollectorRegistry()  # and as metrics, the way Prometheus scrapes them
    registry.register(pipeline.collector())
    assert registry.get_sample_value("yunwang_store_held_events") == 281
    assert registry.get_sample_value("yunwang_store_spool_write_errors_total") == (
        health.spool_write_errors
    )
    full = [r.getMessage() for r in caplog.records if "No space left on device" in r.getMessage()]
    assert len(full) == 1 and "holding" in full[0], "said once in the log"
    [warning] = [w for w in pipeline.active_warnings() if w.rule_id == "YW-STORE-001"]
    assert warning.level == "orange"
    filler.unlink()
    with caplog.at_level(logging.WARNING, logger="security.store.elastic"):
        pipeline.tick()
    assert offline.health().held_events == 0 and len(offline.spool) == 301
    assert registry.get_sample_value("yunwang_store_held_events") == 0
    assert any("writable again" in r.getMessage() for r in caplog.records)
    assert not [w for w in pipeline.active_warnings() if w.rule_id == "YW-STORE-001"]
    pipeline.close()
    online = ElasticStore(es_node.url, namespace=offline.namespace, spool_dir=spool_dir)
    online.flush()
    assert not online.spool and online.count_events() == 302  # and spool-full, accepting
    stored = online.search(dataset="yunwang.links", limit=1000)
    assert [e.id for e in stored] == [e.id for e in reversed(events)]
    states = [e.context.state for e in online.search(dataset="yunwang.store")]
    assert states == ["accepting", "spool-full"]
    online.close()
