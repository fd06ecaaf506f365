"""A fix task that fails partway still counts what it changed before.

The role's mlps_files and mlps_lines each apply many controls' entries in
one task. When a later entry fails, the files the earlier entries changed
stay changed on the host; `yunwang harden` must count them for their
controls (and say the host failed), not drop them with the failed task.
Run for real: ansible-runner (through playbooks.runner, as `harden` runs
it) on a local connection, the role's own modules, events folded by the
same collector `harden` uses.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from playbooks.hardening import Report, _Collector
from playbooks.runner import run_playbook
from tests.hardening.local_ansible import ROLE


def _entry(**fields: str) -> dict[str, object]:
    return {"levels": [3], **fields}  # selected on a level-3 host (mlps_select.selected)


def _run(
    tmp_path: Path, module: str, entries: dict[str, list[dict[str, object]]]
) -> tuple[Report, _Collector]:
    # Modules and module_utils beside the playbook are found as a role's are.
    (tmp_path / "library").symlink_to(ROLE / "library")
    (tmp_path / "module_utils").symlink_to(ROLE / "module_utils")
    playbook = tmp_path / "play.yml"
    task = {"name": f"fix: {module}", module: {"level": 3, **entries}}
    play = {"hosts": "all", "gather_facts": False, "tasks": [task]}
    playbook.write_text(json.dumps([play]))
    inventory = {
        "all": {
            "hosts": {
                "localhost": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable,
                }
            }
        }
    }
    report = Report("fix")
    collector = _Collector(report, None)
    run_playbook(playbook, inventory, on_event=collector)
    return report, collector


def test_files_changed_before_a_failed_entry_are_counted(tmp_path: Path) -> None:
    made = tmp_path / "made"
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, where the next entry wants a directory\n")
    files = [
        _entry(id="YW-T-1", task="T1", path=str(made), state="directory"),
        _entry(id="YW-T-1", task="T2", path=str(made / "sub"), state="directory"),
        _entry(id="YW-T-2", task="T3", path=str(blocker), state="directory"),
        _entry(id="YW-T-3", task="T4", path=str(tmp_path / "never"), state="directory"),
    ]
    report, collector = _run(tmp_path, "mlps_files", {"files": files})
    assert (made / "sub").is_dir() and not (tmp_path / "never").exists()
    outcome = report.hosts["localhost"]
    assert outcome.state == "failed"
    assert "T3" in outcome.message and str(blocker) in outcome.message
    assert collector.changed == {("localhost", "YW-T-1"): 2}
    assert outcome.changed == 2


def test_lines_written_before_a_failed_file_are_counted(tmp_path: Path) -> None:
    written = tmp_path / "a.conf"
    written.write_text("PASS_MAX_DAYS 99999\n")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, where a directory is needed\n")
    unwritable = blocker / "b.conf"  # its directory is a file: the write fails
    lines = [
        _entry(id="YW-L-1", path=str(written), regexp="^PASS_MAX_DAYS", line="PASS_MAX_DAYS 90"),
        _entry(id="YW-L-2", path=str(unwritable), line="x 1"),
    ]
    report, collector = _run(tmp_path, "mlps_lines", {"lines": lines})
    assert written.read_text() == "PASS_MAX_DAYS 90\n"
    outcome = report.hosts["localhost"]
    assert outcome.state == "failed"
    assert outcome.message.endswith(f"{unwritable}: Not a directory")
    assert collector.changed == {("localhost", "YW-L-1"): 1}
    assert outcome.changed == 1
