"""The control files: schema, coverage of the standard, generated files current."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from playbooks import generate
from playbooks.clauses import CLAUSES
from playbooks.controls import AREAS, ControlError, load_controls, resolve_ids

REPO = Path(__file__).resolve().parents[2]


def test_at_least_80_controls_in_every_area() -> None:
    controls = load_controls()
    assert len(controls) >= 80
    areas = {c.area for c in controls}
    assert areas == {a.name for a in AREAS}


def test_every_host_clause_of_8_1_4_has_a_control() -> None:
    """A clause without controls must say in clauses.py who meets it instead."""
    served = {c.clause for c in load_controls()}
    for clause in CLAUSES:
        assert clause.id in served or clause.outside_host, f"{clause.id} has no control and no note"
    host_clauses = [c.id for c in CLAUSES if c.id.startswith("8.1.4") and not c.outside_host]
    assert set(host_clauses) <= served


def test_level_2_is_a_proper_subset() -> None:
    controls = load_controls()
    level2 = [c for c in controls if 2 in c.levels]
    assert all(3 in c.levels for c in controls)
    assert 0 < len(level2) < len(controls)


def test_every_automatic_control_can_be_broken_by_its_fixture() -> None:
    """Controls without a break fixture are the few whose breakage needs what a
    lab host cannot do (install a package, run auditd): listed, so none slips by."""
    unbreakable = {c.id for c in load_controls() if c.fix and c.fixtures is None}
    assert len(unbreakable) <= 12, sorted(unbreakable)


def test_generated_files_are_current() -> None:
    assert generate.stale() == [], "run: python -m playbooks.generate"


def test_coverage_names_the_clauses_that_need_a_person() -> None:
    text = (REPO / "docs" / "mlps-coverage.md").read_text(encoding="utf-8")
    assert "8.1.4.2 g [level 3 only]: not a host setting" in text
    assert "8.1.10 安全运维管理" in text
    assert "| YW-C-AC-001 | SSH refuses root login | critical | 2/3 | automatic |" in text


def test_bad_control_file_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "access"
    folder.mkdir()
    (folder / "YW-C-AC-001.yml").write_text(
        "id: YW-C-AC-001\ntitle: A title\nclause: 8.1.4.2 z\nseverity: high\nlevels: [3]\n"
        "rationale: long enough rationale text here\ncheck: 'true'\nfix: []\nmanual: by hand\n"
    )
    with pytest.raises(ControlError) as caught:
        load_controls(tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert "YW-C-AC-001.yml: clause:" in message


def test_control_in_the_wrong_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "audit"
    folder.mkdir()
    source = REPO / "playbooks/roles/mlps/controls/access/YW-C-AC-001.yml"
    shutil.copy(source, folder / "YW-C-AC-001.yml")
    with pytest.raises(ControlError, match="controls in audit/ are YW-C-AU-NNN"):
        load_controls(tmp_path)


def test_unknown_control_id_is_refused() -> None:
    assert resolve_ids(["yw-c-ac-001"]) == ["YW-C-AC-001"]
    with pytest.raises(ControlError, match="--control YW-C-ZZ-999: no such control"):
        resolve_ids(["YW-C-ZZ-999"])


@pytest.mark.slow
def test_role_passes_ansible_lint_production_profile() -> None:
    lint = Path(sys.executable).with_name("ansible-lint")
    done = subprocess.run(
        [str(lint), "-c", ".ansible-lint", "playbooks/"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
