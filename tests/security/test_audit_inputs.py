"""Bad audit keys, trails, secret references, durations and stores: one line each, never a
traceback, and nothing the user pointed at is changed."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from estate.secrets import SecretMissing, SecretRef
from security.audit import AuditError, AuditTrail, TamperedRecord, audit_key, parse_record
from security.rulebook import parse_duration
from security.store.sqlite import SqliteStore
from yunwang.cli import app

runner = CliRunner()


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def trail(tmp_path: Path) -> AuditTrail:
    made = AuditTrail(tmp_path / "audit.jsonl")
    made.append("infra.plan", "small.yaml")
    made.append("infra.plan", "full.yaml")
    return AuditTrail(made.path)  # a fresh reader: the key comes from audit.key


# -- 1: the key file meets the same minimum as the environment's key ------------------


@pytest.mark.parametrize("content", ["", "\n", "short-key\n"])
def test_short_or_empty_key_file_is_refused_for_writing_and_verifying(
    trail: AuditTrail, content: str
) -> None:
    key_file = trail.path.parent / "audit.key"
    key_file.write_text(content)
    with pytest.raises(AuditError, match="expected an audit key of at least 16 characters"):
        AuditTrail(trail.path).append("infra.plan", "x")
    with pytest.raises(AuditError, match=str(key_file)):
        AuditTrail(trail.path).verify()
    result = runner.invoke(app, ["audit", "verify", "--file", str(trail.path)])
    assert result.exit_code == 1
    line = one_line(result.output)
    assert line.startswith(f"{key_file}: expected an audit key of at least 16 characters")
    assert "intact" not in result.output


def test_generated_key_is_long_random_and_private(tmp_path: Path) -> None:
    first = audit_key(directory=tmp_path / "a")
    second = audit_key(directory=tmp_path / "b")
    assert len(first) == 64 and len(second) == 64
    assert first != second
    assert int(first, 16) >= 0  # hex
    assert ((tmp_path / "a" / "audit.key").stat().st_mode & 0o777) == 0o600
    assert audit_key(directory=tmp_path / "a") == first  # kept, not regenerated
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["audit.key"]


# -- 2: a number Python will not read -------------------------------------------------


def test_record_with_a_huge_integer_is_one_line_naming_the_line(trail: AuditTrail) -> None:
    lines = trail.path.read_text().splitlines()
    raw = json.loads(lines[1])
    lines[1] = lines[1].replace(f'"seq": {raw["seq"]}', '"seq": ' + "9" * 5000)
    trail.path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TamperedRecord, match="line 7"):
        parse_record(lines[1], 7)
    result = runner.invoke(app, ["audit", "verify", "--file", str(trail.path)])
    assert result.exit_code == 1
    assert one_line(result.output).startswith(f"{trail.path}: line 2: ")


# -- 3: binary keys -------------------------------------------------------------------


def test_binary_key_file_is_one_line(trail: AuditTrail) -> None:
    key_file = trail.path.parent / "audit.key"
    key_file.write_bytes(b"\xff\xfe\x00" * 20)
    result = runner.invoke(app, ["audit", "verify", "--file", str(trail.path)])
    assert result.exit_code == 1
    assert one_line(result.output) == (
        f"{key_file}: expected the audit key as UTF-8 text, found binary data"
    )


def test_binary_secret_file_is_one_line(
    trail: AuditTrail, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\xff\xfe\x00" * 20)
    with pytest.raises(SecretMissing, match="expected UTF-8 text, found binary data"):
        SecretRef(file=str(garbage)).resolve()
    monkeypatch.setenv("YUNWANG_AUDIT_KEY", f"{{file: {garbage}}}")
    result = runner.invoke(app, ["audit", "verify", "--file", str(trail.path)])
    assert result.exit_code == 1
    line = one_line(result.output)
    assert str(garbage) in line and "expected UTF-8 text" in line


# -- 4: a head that is a directory ----------------------------------------------------


def test_head_that_is_a_directory_names_the_head(trail: AuditTrail) -> None:
    trail.head_path.unlink()
    trail.head_path.mkdir()
    result = runner.invoke(app, ["audit", "verify", "--file", str(trail.path)])
    assert result.exit_code == 1
    assert one_line(result.output).startswith(f"{trail.head_path}: cannot read the audit head")


# -- 5: empty names in a secret reference ---------------------------------------------


@pytest.mark.parametrize("reference", ["{env: }", "{env:}", "env:", "{file:  }"])
def test_empty_reference_name_is_refused(
    trail: AuditTrail, reference: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YUNWANG_AUDIT_KEY", reference)
    with pytest.raises(AuditError, match="is empty"):
        audit_key()
    result = runner.invoke(app, ["audit", "verify", "--file", str(trail.path)])
    assert result.exit_code == 1
    line = one_line(result.output)
    assert line.startswith("YUNWANG_AUDIT_KEY: ") and "is empty" in line
    assert "}" not in line.split(";")[0].removeprefix("YUNWANG_AUDIT_KEY: ")


def test_secret_ref_rejects_empty_names() -> None:
    with pytest.raises(ValueError, match="env: expected an environment variable name"):
        SecretRef(env=" ")
    with pytest.raises(ValueError, match="file: expected a file path"):
        SecretRef(file="")


# -- 6: durations ---------------------------------------------------------------------


def test_durations_are_bounded() -> None:
    assert parse_duration("3650d").days == 3650
    for text in ("3651d", "9999999999d", "99999999999999999d", "9" * 5000 + "s"):
        with pytest.raises(ValueError, match="at most 3650d"):
            parse_duration(text)


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["posture", "--history", "9999999999d"], "--history"),
        (["events", "search", "x", "--since", "99999999999999999d"], "--since"),
    ],
)
def test_huge_duration_options_are_one_line(argv: list[str], option: str) -> None:
    result = runner.invoke(app, argv)
    assert result.exit_code == 2
    assert one_line(result.output).startswith(f"{option}: expected a duration of at most")


# -- 7: read-only verbs never turn someone else's file into an event store -------------


def foreign_db(path: Path, wal: bool = False) -> Path:
    db = sqlite3.connect(path)
    if wal:
        db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE foo (x)")
    db.execute("INSERT INTO foo VALUES (1)")
    db.commit()
    db.close()
    return path


READ_ONLY_VERBS = [["warnings"], ["posture"], ["events", "search", "x"], ["audit", "verify"]]


@pytest.mark.parametrize("argv", READ_ONLY_VERBS)
@pytest.mark.parametrize("kind", ["foreign", "foreign-wal", "empty"])
def test_read_only_verbs_refuse_a_file_that_is_not_an_event_store(
    tmp_path: Path, argv: list[str], kind: str
) -> None:
    path = tmp_path / f"{kind}.db"
    if kind.startswith("foreign"):
        foreign_db(path, wal=kind.endswith("wal"))
    else:
        path.write_bytes(b"")
    before = digest(path)
    result = runner.invoke(app, [*argv, "--store", f"sqlite://{path}"])
    assert result.exit_code == 1
    assert one_line(result.output) == f"{path}: not a yunwang event store (no events table)"
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_read_only_verbs_still_read_a_real_event_store(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    SqliteStore(path).close()
    result = runner.invoke(app, ["warnings", "--store", f"sqlite://{path}"])
    assert result.exit_code == 0, result.output
