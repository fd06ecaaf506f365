"""The audit trail notices every edit, removal, reordering and truncation."""

from __future__ import annotations

import json
from pathlib import Path

from security.audit import AuditTrail, record


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
