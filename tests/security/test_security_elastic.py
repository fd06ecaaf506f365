"""Elasticsearch specifics: ECS data stream, retention policy, and the spool across an outage."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from conftest import EsNode, es_namespace
from elasticsearch import ApiError, helpers
from sec_helpers import make_event

from security.pipeline import Pipeline
from security.store import StoreError, es_schema
from security.store.elastic import ElasticStore


def test_data_stream_has_ecs_mappings_and_retention(es_node: EsNode, tmp_path: Path) -> None:
    store = ElasticStore(
        es_node.url, namespace=es_namespace(), spool_dir=tmp_path / "spool", retention_days=200
    )
    store.put_events([make_event(0, src="198.18.0.5", county="c1", pair="c1")])
    store.flush()
    [index] = store.backing_indices()
    assert index.startswith(f".ds-logs-yunwang.events-{store.namespace}-")
    props = store.client.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    assert props["source"]["properties"]["ip"]["type"] == "ip"
    assert props["event"]["properties"]["severity"]["type"] == "long"
    assert props["yunwang"]["properties"]["county"]["type"] == "keyword"
    assert props["@timestamp"]["type"] == "date"
    template = store.client.indices.get_index_template(
        name=f"logs-yunwang.events-{store.namespace}"
    )
    body = template["index_templates"][0]["index_template"]
    assert body["data_stream"] is not None and body["priority"] == 200
    if store.ilm:
        assert body["template"]["settings"]["index"]["lifecycle"]["name"] == es_schema.POLICY_NAME
        policy = store.client.ilm.get_lifecycle(name=es_schema.POLICY_NAME)
        assert policy[es_schema.POLICY_NAME]["policy"]["phases"]["delete"]["min_age"] == "200d"
    else:
        assert body["template"]["lifecycle"]["data_retention"] == "200d"
    store.close()


def test_policy_deletes_after_retention_and_rolls_over() -> None:
    policy = es_schema.ilm_policy(365)
    assert policy["phases"]["delete"]["min_age"] == "365d"
    assert policy["phases"]["hot"]["actions"]["rollover"]["max_age"] == "1d"


def _in_index_order(store: ElasticStore) -> list[str]:
    ids: list[str] = []
    for index in store.backing_indices():
        hits = helpers.scan(
            store.client,
            index=index,
            query={"sort": ["_seq_no"], "_source": ["event.id"]},
            preserve_order=True,
        )
        ids += [hit["_source"]["event"]["id"] for hit in hits]
    return ids


def test_outage_mid_stream_loses_nothing_and_duplicates_nothing(
    es_node: EsNode, tmp_path: Path
) -> None:
    store = ElasticStore(
        es_node.url,
        namespace=es_namespace(),
        spool_dir=tmp_path / "spool",
        batch_size=100,
        chunk_size=100,
        request_timeout=5,
    )
    sent: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            batch = [
                make_event(n + i, message=f"event {n + i}", link=f"l{n + i}") for i in range(100)
            ]
            store.put_events(batch)
            sent.extend(e.id for e in batch)
            n += 100
            time.sleep(0.2)  # ~500 events/s: an outage of ~30 s spools ~15k

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(sent) < 1500:
            time.sleep(0.05)
        es_node.stop(keep_data=True)  # mid-stream: the writer keeps going
        while not store.spool:
            time.sleep(0.05)
        # Meanwhile `yunwang watch` starts with Elasticsearch down: detection goes on.
        watch_store = ElasticStore(
            es_node.url, namespace=es_namespace(), spool_dir=tmp_path / "watch", request_timeout=5
        )
        pipeline = Pipeline(watch_store)
        isolated = make_event(
            0, pair="hl", node="hl", level="county", state="isolated", county="hl"
        )
        [change] = pipeline.submit([isolated])
        pipeline.tick()
        assert change.warning.level == "red" and pipeline.active_warnings() == [change.warning]
        assert pipeline.store_errors > 0 and len(watch_store.spool) == 1
        spooled_during_outage = len(store.spool)
        es_node.start()
        written_at_restart = len(sent)
        while len(sent) < written_at_restart + 1000:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
    store.flush()
    assert spooled_during_outage > 0
    assert not store.spool, "the spool replays completely once Elasticsearch is back"
    assert store.rejected == 0
    assert store.count_events() == len(sent) == len(set(sent))
    assert _in_index_order(store) == sent, "events are stored in the order they were produced"
    store.close()
    pipeline.tick()  # the watch pipeline catches up: spooled event and unsaved warning
    assert watch_store.get_warning(change.warning.id) == change.warning
    assert watch_store.count_events() == 1 and not watch_store.spool
    pipeline.close()


def _count_when_searchable(store: ElasticStore) -> int:
    """Documents in the store's stream; 0 while the sender thread is still
    creating it (a search of a shard not yet started answers 503)."""
    try:
        store.client.indices.refresh(index=store.stream, ignore_unavailable=True)
        return int(store.client.count(index=store.stream, ignore_unavailable=True)["count"])
    except ApiError as exc:
        if exc.meta.status != 503:
            raise
        return 0


def test_a_full_chunk_is_sent_by_the_sender_thread_while_the_caller_goes_on(
    es_node: EsNode, tmp_path: Path
) -> None:
    """No flush: a chunk pending wakes the store's sender thread. The caller
    (the pipeline, grading) returns at once even while a send holds the
    store; only far behind (batch_size * BACKLOG_BATCHES) does it send itself."""
    store = ElasticStore(
        es_node.url,
        namespace=es_namespace(),
        spool_dir=tmp_path / "spool",
        chunk_size=200,
        batch_size=1000,
    )
    events = [make_event(i, message=f"event {i}", link=f"l{i}") for i in range(450)]
    with store._sending:  # a send under way: put_events must not wait for it
        store.put_events(events[:150])  # less than a chunk: left to the tick's flush
        assert store._sender is None
        store.put_events(events[150:])
        assert store._sender is not None and store._sender.is_alive()
        assert len(store._pending) == 450
    deadline = time.monotonic() + 30
    stored = 0
    while stored < 450 and time.monotonic() < deadline:
        time.sleep(0.1)
        stored = _count_when_searchable(store)
    assert stored == 450 and not store._pending and not store.spool
    sender = store._sender
    store.close()
    assert not sender.is_alive()


def test_spool_survives_a_restart_of_yunwang(es_node: EsNode, tmp_path: Path) -> None:
    """Events spooled while Elasticsearch was unreachable are sent by the next process."""
    from conftest import free_port

    namespace = es_namespace()
    offline = ElasticStore(
        f"http://127.0.0.1:{free_port()}",
        namespace=namespace,
        spool_dir=tmp_path / "spool",
        request_timeout=5,
    )
    batch = [make_event(i, message=f"early {i}") for i in range(50)]
    offline.put_events(batch)
    offline.flush()  # no exception: the events wait on disk
    assert len(offline.spool) == 50 and offline.down
    offline.close()

    online = ElasticStore(es_node.url, namespace=namespace, spool_dir=tmp_path / "spool")
    online.put_events([make_event(100, message="late")])
    online.flush()
    assert not online.spool
    assert _in_index_order(online) == [e.id for e in batch] + [make_event(100, message="late").id]
    online.close()


def test_429_is_retried_with_backoff(es_node: EsNode, tmp_path: Path) -> None:
    """A real 429: the in-flight request circuit breaker trips on every bulk body for a while."""
    store = ElasticStore(
        es_node.url, namespace=es_namespace(), spool_dir=tmp_path / "spool", chunk_size=200
    )
    breaker = "network.breaker.inflight_requests.limit"
    store.client.cluster.put_settings(transient={breaker: "4kb"})
    released = threading.Timer(
        2.0, lambda: store.client.cluster.put_settings(transient={breaker: None})
    )
    try:
        released.start()
        batch = [make_event(i, message=f"burst {i} " + "x" * 200) for i in range(400)]
        started = time.monotonic()
        store.put_events(batch)
        store.flush()
        waited = time.monotonic() - started
    finally:
        released.join()
        store.client.cluster.put_settings(transient={breaker: None})
    assert waited >= 1.5, "the bulk was refused (429) and retried after backoff"
    assert not store.spool and store.rejected == 0
    assert store.count_events() == 400
    store.close()


def test_cli_reads_the_elasticsearch_store(es_node: EsNode, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from yunwang.cli import app

    namespace = es_namespace()
    url = f"{es_node.url}/?namespace={namespace}&spool={tmp_path / 'spool'}"
    pipeline = Pipeline(
        ElasticStore(es_node.url, namespace=namespace, spool_dir=tmp_path / "spool")
    )
    isolated = make_event(
        0,
        pair="hl",
        node="hl",
        level="county",
        state="isolated",
        county="hl",
        message="county hl isolated from the extranet",
    )
    [change] = pipeline.submit([isolated])
    pipeline.close()
    runner = CliRunner()
    found = runner.invoke(app, ["events", "search", "isolated extranet", "--store", url, "--json"])
    assert found.exit_code == 0, found.output
    assert [doc["event"]["id"] for doc in json.loads(found.stdout)] == [isolated.id]
    acked = runner.invoke(
        app, ["warnings", "--store", url, "--ack", change.warning.id, "-m", "on it"]
    )
    assert acked.exit_code == 0, acked.output
    listed = json.loads(runner.invoke(app, ["warnings", "--store", url, "--json"]).stdout)
    assert [(w["id"], w["status"]) for w in listed] == [(change.warning.id, "acknowledged")]
    down = runner.invoke(app, ["warnings", "--store", "http://127.0.0.1:9/?namespace=x"])
    assert down.exit_code == 1
    assert down.stderr.strip() == "http://127.0.0.1:9: elasticsearch is unreachable"


def test_reads_the_node_answers_with_an_error_are_one_line_and_resumed_later(
    es_node: EsNode, tmp_path: Path
) -> None:
    """A node that answers a read with an error, rather than not at all: a
    search of shards not started yet answers 503, an overloaded node 429.
    Here a real 429: the in-flight request breaker refuses every request
    body larger than a few bytes. The centre's pipeline, resuming from the
    store at start, went down with a traceback on a 503 (a CI run); now it
    retries at its next tick, and the CLI says it in one line."""
    from typer.testing import CliRunner

    from yunwang.cli import app

    namespace = es_namespace()
    store = ElasticStore(es_node.url, namespace=namespace, spool_dir=tmp_path / "spool")
    store.put_events([make_event(0, message="before the breaker")])
    store.flush()
    url = f"{es_node.url}/?namespace={namespace}&spool={tmp_path / 'spool'}"
    breaker = "network.breaker.inflight_requests.limit"
    store.client.cluster.put_settings(transient={breaker: "300b"})
    try:
        pipeline = Pipeline(store)  # resumes from the store: refused, and no exception
        assert not pipeline._resumed
        with pytest.raises(StoreError, match=r"elasticsearch answered 429 \(.+\)$"):
            list(store.iter_events(["yunwang.link"], make_event(0).timestamp))
        with pytest.raises(StoreError, match="elasticsearch answered 429"):
            store.search("before")
        found = CliRunner().invoke(app, ["events", "search", "before", "--store", url])
        assert found.exit_code == 1, (found.output, found.exception)
        [line] = found.stderr.strip().splitlines()
        assert line.startswith(f"{es_node.url}: elasticsearch answered 429 (")
    finally:
        store.client.cluster.put_settings(transient={breaker: None})
    pipeline.tick()
    assert pipeline._resumed
    assert [e.message for e in store.search("before")] == ["before the breaker"]
    pipeline.close()


def test_a_node_answering_429_while_the_stream_is_installed_loses_no_event(
    es_node: EsNode, tmp_path: Path
) -> None:
    """The template is installed at start and, failing that, before a send.
    A node that answered that install with an error used to raise out of
    the send with the events already taken from the queue: lost. Now they
    wait in the spool, and go once the node takes them."""
    namespace = es_namespace()
    admin = ElasticStore(es_node.url, namespace=f"{namespace}admin", spool_dir=tmp_path / "a")
    breaker = "network.breaker.inflight_requests.limit"
    admin.client.cluster.put_settings(transient={breaker: "300b"})
    try:
        store = ElasticStore(es_node.url, namespace=namespace, spool_dir=tmp_path / "spool")
        assert store.down  # answered 429 at start: as if down, and no exception
        batch = [make_event(i, message=f"while refused {i}") for i in range(20)]
        store.put_events(batch)
        store.flush()  # the install is tried again, answered 429 again
        assert len(store.spool) == 20
        with pytest.raises(StoreError, match="elasticsearch answered 429"):
            store.count_events()
    finally:
        admin.client.cluster.put_settings(transient={breaker: None})
    store.flush()
    assert not store.spool
    assert _in_index_order(store) == [e.id for e in batch]
    store.close()
    admin.close()
