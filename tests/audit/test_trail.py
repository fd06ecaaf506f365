"""The audit trail notices every edit, removal, reordering and truncation."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from security.audit import AuditError, AuditTrail, audit_key, record
from security.audit_anchor import HeadAnchor, latest_anchor, verify_anchor
from security.store.sqlite import SqliteStore
from yunwang.cli import app


def _trail(tmp_path: Path, n: int = 4) -> AuditTrail:
    trail = AuditTrail(tmp_path / "audit.jsonl")
    for i in range(n):
        trail.append("lab.up", f"estate-{i}.yaml", detail={"i": i}, actor="tester")
    return trail


def _lines(trail: AuditTrail) -> list[str]:
    return trail.path.read_text(encoding="utf-8").splitlines(keepends=True)


def test_an_untouched_trail_verifies(tmp_path: Path) -> None:
    trail = _trail(tmp_path)
    assert trail.verify() == []
    records = list(trail.records())
    assert [r.seq for r in records] == [1, 2, 3, 4]
    assert records[1].prev == records[0].hash and records[0].actor == "tester"


def test_an_edited_record_is_detected(tmp_path: Path) -> None:
    trail = _trail(tmp_path)
    lines = _lines(trail)
    doc = json.loads(lines[1])
    doc["outcome"] = "failure"
    lines[1] = json.dumps(doc, ensure_ascii=False) + "\n"
    trail.path.write_text("".join(lines), encoding="utf-8")
    assert any("record 2 was edited" in str(b) for b in trail.verify())


def test_a_removed_record_is_detected(tmp_path: Path) -> None:
    trail = _trail(tmp_path)
    lines = _lines(trail)
    del lines[1]
    trail.path.write_text("".join(lines), encoding="utf-8")
    breaches = [str(b) for b in trail.verify()]
    assert any("removed or reordered" in b for b in breaches), breaches


def test_reordered_records_are_detected(tmp_path: Path) -> None:
    trail = _trail(tmp_path)
    lines = _lines(trail)
    lines[1], lines[2] = lines[2], lines[1]
    trail.path.write_text("".join(lines), encoding="utf-8")
    assert trail.verify()


def test_records_cut_off_the_end_are_detected(tmp_path: Path) -> None:
    trail = _trail(tmp_path)
    trail.path.write_text("".join(_lines(trail)[:-1]), encoding="utf-8")
    assert any("cut off the end" in str(b) for b in trail.verify())


def test_record_goes_to_yunwang_home(yunwang_home: Path) -> None:
    record("plan", "examples/small.yaml", detail={"resources": 3})
    trail = AuditTrail()
    assert trail.path == yunwang_home / "audit.jsonl"
    (only,) = list(trail.records())
    assert (only.action, only.target, only.outcome) == ("plan", "examples/small.yaml", "success")


# -- keyed chain and anchored head (issue 10 item 13) -------------------------


def test_the_chain_is_keyed_with_a_0600_key_file_by_default(yunwang_home: Path) -> None:
    record("plan", "a.yaml")
    key_file = yunwang_home / "audit.key"  # beside the default trail
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert len(key_file.read_text().strip()) == 64
    assert AuditTrail().verify() == []
    assert AuditTrail(key=b"another key, not the one that sealed it").verify()


def test_the_key_is_given_by_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "k"
    key_file.write_text("a-key-from-a-file-0123456789\n")
    monkeypatch.setenv("YUNWANG_AUDIT_KEY", f"{{file: {key_file}}}")
    assert audit_key() == b"a-key-from-a-file-0123456789"
    monkeypatch.setenv("AUDIT_SECRET", "a-key-from-the-environment")
    monkeypatch.setenv("YUNWANG_AUDIT_KEY", "{env:AUDIT_SECRET}")
    assert audit_key() == b"a-key-from-the-environment"
    monkeypatch.setenv("YUNWANG_AUDIT_KEY", "{env:UNSET_AUDIT_SECRET}")
    with pytest.raises(AuditError, match="UNSET_AUDIT_SECRET is not set"):
        audit_key()
    monkeypatch.setenv("YUNWANG_AUDIT_KEY", "hunter2-inline-secret")
    with pytest.raises(AuditError, match=r"expected \{env: NAME\} or \{file: PATH\}"):
        audit_key()


def _unkeyed_rewrite(trail: AuditTrail, target: str) -> None:
    """What an attacker without the key writes: a fresh SHA-256 chain and a matching head."""
    prev, lines = "0" * 64, []
    for doc in map(json.loads, _lines(trail)):
        doc["target"], doc["prev"] = target, prev
        body = {k: v for k, v in doc.items() if k != "hash"}
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        doc["hash"] = prev = hashlib.sha256(canonical.encode()).hexdigest()
        lines.append(json.dumps(doc) + "\n")
    trail.path.write_text("".join(lines))
    trail.head_path.write_text(f"{len(lines)} {prev}\n")


def test_a_full_rewrite_without_the_key_is_detected(tmp_path: Path) -> None:
    trail = _trail(tmp_path)
    _unkeyed_rewrite(trail, "innocent.yaml")
    breaches = trail.verify()
    assert [b.line for b in breaches] == [1, 2, 3, 4]
    assert str(breaches[0]) == "line 1: record 1 was edited (its MAC does not match)"


def test_a_rewrite_with_the_key_or_deleting_both_files_is_caught_by_the_anchor(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "events.db")
    trail = _trail(tmp_path)
    anchor = HeadAnchor(trail, store.put_events)
    assert anchor.update() is not None and anchor.update() is None  # only when it moved
    latest = latest_anchor(store, trail)
    assert latest is not None and (latest.seq, latest.hash) == trail.head()
    assert verify_anchor(trail, latest) == []
    # Someone with the key replaces trail and head with a history of their own.
    trail.path.unlink()
    trail.head_path.unlink()
    assert trail.verify() == []  # the files alone look fine...
    [gone] = verify_anchor(trail, latest)
    assert "anchored record 4" in gone.reason and "the trail is gone" in gone.reason
    for i in range(5):
        trail.append("lab.up", f"forged-{i}.yaml", actor="intruder")
    assert trail.verify() == []
    [rewritten] = verify_anchor(trail, latest)
    assert rewritten.line == 4 and "record 4 is not the one the event store anchored" in str(
        rewritten
    )
    store.close()


# -- a crash between the record's fsync and the head's replace (item 14) ------

_CRASH_AT_HEAD = """
import os, signal, sys
import security.audit as audit
real_replace = os.replace
def replace(src, dst):
    if str(dst).endswith(".head") and os.environ.get("CRASH") == "1":
        os.kill(os.getpid(), signal.SIGKILL)  # the record is on disk, the head is not
    real_replace(src, dst)
audit.os.replace = replace
audit.AuditTrail(sys.argv[1]).append("lab.up", "crash.yaml", actor="tester")
"""


def _append_in_child(path: Path, crash: bool) -> int:
    env = {**os.environ, "CRASH": "1" if crash else "0"}
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-c", _CRASH_AT_HEAD, str(path)], env=env, cwd=root, check=False
    ).returncode


def test_a_crash_before_the_head_moves_neither_forks_nor_alarms(tmp_path: Path) -> None:
    trail = _trail(tmp_path, 3)
    assert _append_in_child(trail.path, crash=True) == -signal.SIGKILL
    assert trail.head()[0] == 3 and len(_lines(trail)) == 4
    assert trail.verify() == [], "a record one past the head is a crash, not tampering"
    assert _append_in_child(trail.path, crash=False) == 0
    trail.append("lab.down", "after.yaml", actor="tester")
    assert [r.seq for r in trail.records()] == [1, 2, 3, 4, 5, 6]
    assert trail.verify() == [] and trail.head()[0] == 6


# -- type-corrupted records are tampering, never a traceback (item 15) -------


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("seq", "2", 'seq: expected an integer, found "2"'),
        ("seq", True, "seq: expected an integer, found true"),
        ("detail", ["x"], 'detail: expected an object, found ["x"]'),
        ("detail", "x", 'detail: expected an object, found "x"'),
        ("prev", None, "prev: expected a string, found null"),
        ("outcome", "maybe", "outcome: unknown value 'maybe'"),
    ],
)
def test_type_corrupted_records_are_tampering(
    tmp_path: Path, field: str, value: object, says: str
) -> None:
    trail = _trail(tmp_path)
    lines = _lines(trail)
    doc = json.loads(lines[1])
    doc[field] = value
    lines[1] = json.dumps(doc) + "\n"
    trail.path.write_text("".join(lines))
    breaches = [str(b) for b in trail.verify()]
    assert breaches == [f"line 2: {says}: tampering"]
    for verb in ("verify", "show"):
        result = CliRunner().invoke(app, ["audit", verb, "--file", str(trail.path)])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
        assert f"line 2: {says}: tampering" in result.stderr
        assert "Traceback" not in result.output


def test_lines_that_are_not_records_are_tampering(tmp_path: Path) -> None:
    trail = _trail(tmp_path)
    for bad, says in (
        ("[1, 2]", "not a record"),
        ('{"seq": 1}', "missing or unexpected"),
        ("[" * 100000, "not JSON"),
        ("{not json", "not JSON"),
    ):
        trail.path.write_text("".join(_lines(trail)[:1]) + bad + "\n")
        [breach] = trail.verify()
        assert breach.line == 2 and says in breach.reason and "tampering" in breach.reason


def test_watch_anchors_the_head_and_verify_checks_it(tmp_path: Path) -> None:
    from security.service import SecurityService, WatchConfig

    url = f"sqlite:///{tmp_path / 'events.db'}"
    service = SecurityService(WatchConfig(store=url, metrics_port=None))
    service.start()  # audited: security.start
    service.anchor_audit()  # what each watch cycle calls
    service.stop()
    trail = AuditTrail()
    verify = ["audit", "verify", "--store", url]
    intact = CliRunner().invoke(app, verify)
    assert intact.exit_code == 0, intact.output
    assert "record 1 anchored at" in intact.stdout
    trail.path.unlink()
    trail.head_path.unlink()
    gone = CliRunner().invoke(app, verify)
    assert gone.exit_code == 1 and "Traceback" not in gone.output
    assert gone.stderr.strip() == (
        f"{trail.path}: line 0: the event store anchored record 1 at "
        f"{json.loads(CliRunner().invoke(app, [*verify, '--json']).stdout)['anchor']['time']} "
        "but the trail is gone: the trail was deleted or replaced"
    )


def test_a_reader_never_makes_up_a_key(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.jsonl", key=b"the key that sealed these records")
    trail.append("plan", "a.yaml")
    with pytest.raises(AuditError, match="no audit key here and YUNWANG_AUDIT_KEY is not set"):
        AuditTrail(trail.path).verify()
    assert not (tmp_path / "audit.key").exists()
    for target in (str(trail.path), "/etc"):
        result = CliRunner().invoke(app, ["audit", "verify", "--file", target])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "/etc: is a directory, expected an audit trail file" in result.stderr


def test_verify_against_a_mistyped_store_fails_and_creates_nothing(tmp_path: Path) -> None:
    """A typo in --store must not pass for "no anchor yet": the anchor check
    would be skipped silently, and a new empty store made in a new directory."""
    trail = _trail(tmp_path)
    typo = tmp_path / "typo" / "events.db"
    result = CliRunner().invoke(
        app, ["audit", "verify", "--file", str(trail.path), "--store", f"sqlite:///{typo}"]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.count("\n") == 1
    assert f"{typo}: no event store here (check --store" in result.stderr
    assert not typo.parent.exists()
