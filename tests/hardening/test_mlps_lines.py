"""The mlps role's mlps_lines module against ansible.builtin.lineinfile, on local files.

Every case sets up the same files twice under a temporary directory, runs
mlps_lines (as Ansible runs it: the role's library/ and module_utils/, a
local connection) on one copy and lineinfile on the other, one lineinfile
task per edit, all in one ansible-playbook run (the cases with the default
selection share mlps_lines calls, as the role's areas do; lineinfile runs
one host per case, side by side; ~20 s in all, mostly Python starts). Each
case is then checked against the content, mode and result written down
here, and against what lineinfile left in its copy and reported. A second
mlps_lines run of every non-check case must change nothing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.hardening.local_ansible import ROLE, run_cases
from tests.hardening.mlps_lines_cases import CASES, OLD, Case

# lineinfile's arguments among an edit's keys (the rest say which control it is).
LINEINFILE_ARGS = ("path", "line", "regexp", "owner", "group", "mode")
# Cases that share mlps_lines calls (the role, too, sets many files in one call):
# all with the default selection in one call, in check mode or not. The others
# (a selection each) have calls of their own.
BATCHES = {
    "plain": [
        n for n, c in CASES.items() if c.applied is None and set(c.only) == {"all"} and not c.check
    ],
    "check": [
        n for n, c in CASES.items() if c.applied is None and set(c.only) == {"all"} and c.check
    ],
}
BATCHES.update({n: [n] for n in CASES if not any(n in b for b in BATCHES.values())})
SEP = "|"  # a batch's control ids are case|id


def _setup(root: Path, case: Case) -> None:
    root.mkdir(parents=True)
    for name, content in case.files.items():
        (root / name).write_bytes(content)
        if name in case.modes:
            (root / name).chmod(case.modes[name])
        os.utime(root / name, (OLD, OLD))
    for name, target in case.links.items():
        (root / name).symlink_to(target)


def _abs(root: Path, edit: Mapping[str, Any]) -> dict[str, Any]:
    return {**edit, "path": str(root / str(edit["path"]))}


def _applied(case: Case) -> list[dict[str, Any]]:
    return [e for e in case.edits if case.applied is None or e["id"] in case.applied]


def _playbook(tmp: Path, out: Path) -> list[dict[str, Any]]:
    """Play 1 runs mlps_lines per batch on tmp/CASE/m (then again, unless in check
    mode); play 2 runs lineinfile on tmp/CASE/l, one host per case so that cases
    run side by side; play 3 writes all results to out."""
    mlps: list[dict[str, Any]] = []
    registered: list[str] = []
    for run in ("first", "again"):
        for batch, names in BATCHES.items():
            case = CASES[names[0]]
            if case.check and run == "again":
                continue
            lines = []
            for name in names:
                for edit in CASES[name].edits:
                    lines.append({**_abs(tmp / name / "m", edit), "id": f"{name}{SEP}{edit['id']}"})
            if len(names) == 1:  # a selection by id: keep the ids
                lines = [{**line, "id": str(line["id"]).split(SEP)[1]} for line in lines]
            register = f"m_{batch}_{run}"
            mlps.append(
                {
                    "name": register,
                    "mlps_lines": {
                        "level": case.level,
                        "switches": dict(case.switches),
                        "only": list(case.only),
                        "lines": lines,
                    },
                    "check_mode": case.check,
                    "register": register,
                }
            )
            registered.append(register)
    cases = {
        name: {
            "check": case.check,
            "edits": [
                {k: v for k, v in _abs(tmp / name / "l", e).items() if k in LINEINFILE_ARGS}
                for e in _applied(case)
            ],
        }
        for name, case in CASES.items()
    }
    omit = "{{ item.%s | default(omit) }}"
    lineinfile = {
        "name": "lineinfile",
        "ansible.builtin.lineinfile": {
            "path": "{{ item.path }}",
            "line": "{{ item.line }}",
            **{k: omit % k for k in ("regexp", "owner", "group", "mode")},
            "create": True,
        },
        "loop": "{{ cases[inventory_hostname].edits }}",
        "check_mode": "{{ cases[inventory_hostname].check }}",
        "register": "lineinfile",
    }
    results = (
        "{{ dict(registered | zip(q('ansible.builtin.vars', *registered)))"
        " | combine({'lineinfile': dict(names | zip(names | map('extract', hostvars, 'lineinfile')))})"
        " | to_json }}"
    )
    write = {"ansible.builtin.copy": {"dest": str(out), "content": results}}
    return [
        {"hosts": "localhost", "gather_facts": False, "tasks": mlps},
        {
            "hosts": ",".join(CASES),
            "gather_facts": False,
            "vars": {"cases": cases},
            "tasks": [lineinfile],
        },
        {
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {"registered": registered, "names": list(CASES)},
            "tasks": [write],
        },
    ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """All cases in one ansible-playbook run: the directory and the results."""
    tmp = tmp_path_factory.mktemp("mlps_lines")
    proc, out = run_cases(tmp, CASES, _setup, ("m", "l"), _playbook, forks=8)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    return tmp, json.loads(out.read_text())


def _controls(results: Mapping[str, Any], name: str, run: str) -> tuple[bool, dict[str, int]]:
    """The case's part of its batch's mlps_lines result: changed, and its controls."""
    batch = next(b for b, names in BATCHES.items() if name in names)
    result = results[f"m_{batch}_{run}"]
    assert not result.get("failed"), result
    if len(BATCHES[batch]) == 1:
        assert result["changed"] is bool(result["controls"])
        return result["changed"], result["controls"]
    controls = {
        key.split(SEP)[1]: count
        for key, count in result["controls"].items()
        if key.split(SEP)[0] == name
    }
    return bool(controls), controls


def _tree(root: Path) -> dict[str, tuple[str, bytes, int]]:
    """Every entry under root: its kind, content (a link's target) and permission bits."""
    tree: dict[str, tuple[str, bytes, int]] = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.is_symlink():
            tree[name] = ("link", os.readlink(path).encode(), 0)
        elif path.is_dir():
            tree[name] = ("dir", b"", stat.S_IMODE(path.stat().st_mode))
        else:
            tree[name] = ("file", path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
    return tree


@pytest.mark.parametrize("name", list(CASES))
def test_mlps_lines_as_written_and_as_lineinfile(
    name: str, runs: tuple[Path, dict[str, Any]]
) -> None:
    tmp, results = runs
    case = CASES[name]
    mine, theirs = tmp / name / "m", tmp / name / "l"
    changed, controls = _controls(results, name, "first")
    assert controls == dict(case.controls)
    assert changed is bool(case.controls)
    # As written down here.
    for file, content in case.after.items():
        if content is None:
            assert not (mine / file).exists(), file
        else:
            assert (mine / file).read_bytes() == content, file
    # As lineinfile left its copy (content, kind and mode of every file) ...
    assert _tree(mine) == _tree(theirs)
    # ... and as lineinfile reported it: a control changed iff one of its lines did.
    items = results["lineinfile"][name]["results"]
    assert len(items) == len(_applied(case))
    changed_by_lineinfile: dict[str, int] = {}
    for edit, result in zip(_applied(case), items, strict=True):
        assert not result.get("failed"), result
        if result["changed"]:
            changed_by_lineinfile[edit["id"]] = changed_by_lineinfile.get(edit["id"], 0) + 1
    if case.check:  # lineinfile's check mode does not see its earlier edits: one edit a case
        assert len(items) == 1
    assert controls == changed_by_lineinfile
    if not case.check:  # a second run changes nothing
        assert _controls(results, name, "again") == (False, {})


@pytest.mark.parametrize(
    "name", [n for n, c in CASES.items() if c.files and (not c.controls or c.check)]
)
def test_unchanged_or_checked_files_are_not_rewritten(
    name: str, runs: tuple[Path, dict[str, Any]]
) -> None:
    """No temporary file moved over them: the mtime and the mode they had are kept."""
    tmp, _ = runs
    case = CASES[name]
    for file in case.files:
        path = tmp / name / "m" / file
        assert path.stat().st_mtime == OLD, file
        if file in case.modes:
            assert stat.S_IMODE(path.stat().st_mode) == case.modes[file], file


def test_created_file_has_the_requested_mode(runs: tuple[Path, dict[str, Any]]) -> None:
    tmp, _ = runs
    created = tmp / "create_missing_file_and_directory_with_mode" / "m" / "sub" / "dir" / "new.conf"
    assert stat.S_IMODE(created.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp / "mode_only_change" / "m" / "f").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp / "check_mode_mode_only" / "m" / "f").stat().st_mode) == 0o644


def test_symlink_kept_and_its_target_edited(runs: tuple[Path, dict[str, Any]]) -> None:
    tmp, _ = runs
    link = tmp / "symlinked_file" / "m" / "f"
    assert link.is_symlink() and os.readlink(link) == "target"


def _selected() -> Callable[[Mapping[str, Any], int, Mapping[str, Any], Sequence[str]], bool]:
    spec = importlib.util.spec_from_file_location(
        "mlps_select", ROLE / "module_utils" / "mlps_select.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    function: Callable[[Mapping[str, Any], int, Mapping[str, Any], Sequence[str]], bool] = (
        module.selected
    )
    return function


CONTROL = {"id": "YW-C-AU-001", "area": "audit", "switch": "mlps_au_1", "levels": [3, 4]}


@pytest.mark.parametrize(
    ("level", "switches", "only", "expected"),
    [
        (3, {}, ["all"], True),
        (2, {}, ["all"], False),
        (3, {"mlps_au_1": False}, ["all"], False),
        (3, {"mlps_au_1": "false"}, ["all"], False),
        (3, {"mlps_au_1": "True"}, ["all"], True),
        (3, {}, ["YW-C-AU-001"], True),
        (3, {}, ["YW-C-AU-002"], False),
        (3, {}, ["mlps_audit"], True),
        (3, {}, ["mlps_identity"], False),
        (3, {}, ["mlps_identity", "YW-C-AU-001"], True),
        (4, {}, ["fix", "always"], True),
    ],
)
def test_selection_as_mlps_check(
    level: int, switches: dict[str, Any], only: list[str], expected: bool
) -> None:
    assert _selected()(CONTROL, level, switches, only) is expected
