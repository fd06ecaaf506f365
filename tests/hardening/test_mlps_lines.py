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

import grp
import importlib.util
import json
import os
import pwd
import stat
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "playbooks" / "roles" / "mlps"
ANSIBLE_PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"
PYTHON = REPO / ".venv" / "bin" / "python"

OLD = 1_000_000_000  # the mtime every case's files start with
LONG = "L" * 100_000
USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def _edit(
    control: str, line: str, regexp: str | None = None, path: str = "f", **more: Any
) -> dict[str, Any]:
    """One control's line edit, as the generator emits it (lineinfile's arguments
    without create, plus the control's id, area, switch and levels)."""
    edit: dict[str, Any] = {
        "id": control,
        "area": more.pop("area", "audit"),
        "switch": more.pop("switch", "mlps_sw"),
        "levels": more.pop("levels", [2, 3, 4]),
        "path": path,
        "line": line,
    }
    if regexp is not None:
        edit["regexp"] = regexp
    edit.update(more)
    return edit


@dataclass(frozen=True)
class Case:
    files: Mapping[str, bytes]  # the files before the run, by name under the case's directory
    edits: Sequence[dict[str, Any]]
    after: Mapping[str, bytes | None]  # the files after (None: absent)
    controls: Mapping[str, int]  # the module's count of changed lines per control
    check: bool = False
    level: int = 3
    switches: Mapping[str, Any] = field(default_factory=lambda: {"mlps_sw": True})
    only: Sequence[str] = ("all",)
    applied: Sequence[str] | None = None  # the controls selection keeps (None: all)
    modes: Mapping[str, int] = field(default_factory=dict)  # files' modes before
    links: Mapping[str, str] = field(default_factory=dict)  # symlinks: name -> target


CASES: dict[str, Case] = {
    "replace_last_match": Case(
        files={"f": b"a=1\nb=1\nc=3\nb=2\n"},
        edits=[_edit("YW-C-A-001", "b=9", "^b=")],
        after={"f": b"a=1\nb=1\nc=3\nb=9\n"},
        controls={"YW-C-A-001": 1},
    ),
    "append_when_no_match": Case(
        files={"f": b"a=1\n"},
        edits=[_edit("YW-C-A-001", "z=1", "^zzz")],
        after={"f": b"a=1\nz=1\n"},
        controls={"YW-C-A-001": 1},
    ),
    "identical_line_untouched": Case(
        files={"f": b"a=1\nb=2\n"},
        edits=[_edit("YW-C-A-001", "b=2", "^b="), _edit("YW-C-A-001", "a=1")],
        after={"f": b"a=1\nb=2\n"},
        controls={},
    ),
    "identical_line_kept_when_regexp_misses": Case(
        files={"f": b"x\nb=2\n"},
        edits=[_edit("YW-C-A-001", "b=2", "^nothing-matches-this")],
        after={"f": b"x\nb=2\n"},
        controls={},
    ),
    "create_missing_file_and_directory_with_mode": Case(
        files={},
        edits=[_edit("YW-C-A-001", "key value", "^key ", path="sub/dir/new.conf", mode="0600")],
        after={"sub/dir/new.conf": b"key value\n"},
        controls={"YW-C-A-001": 1},
    ),
    "append_to_file_without_trailing_newline": Case(
        files={"f": b"a=1\nb=2"},
        edits=[_edit("YW-C-A-001", "c=3", "^c=")],
        after={"f": b"a=1\nb=2\nc=3\n"},
        controls={"YW-C-A-001": 1},
    ),
    "replace_last_line_without_trailing_newline": Case(
        files={"f": b"a=1\nb=2"},
        edits=[_edit("YW-C-A-001", "b=3", "^b=")],
        after={"f": b"a=1\nb=3\n"},
        controls={"YW-C-A-001": 1},
    ),
    "identical_last_line_without_trailing_newline": Case(
        files={"f": b"a=1\nb=2"},
        edits=[_edit("YW-C-A-001", "b=2")],
        after={"f": b"a=1\nb=2\n"},
        controls={"YW-C-A-001": 1},
    ),
    "empty_file": Case(
        files={"f": b""},
        edits=[_edit("YW-C-A-001", "x=1", "^x=")],
        after={"f": b"x=1\n"},
        controls={"YW-C-A-001": 1},
    ),
    "very_long_line": Case(
        files={"f": b"a=1\n" + b"L" * 200_000 + b"\n"},
        edits=[_edit("YW-C-A-001", LONG + "X", "^L{200000}$"), _edit("YW-C-A-002", LONG)],
        after={"f": b"a=1\n" + LONG.encode() + b"X\n" + LONG.encode() + b"\n"},
        controls={"YW-C-A-001": 1, "YW-C-A-002": 1},
    ),
    "crlf_lines": Case(
        files={"f": b"a=1\r\nb=2\r\nc=3\r\n"},
        edits=[_edit("YW-C-A-001", "b=3", "^b="), _edit("YW-C-A-002", "c=3")],
        after={"f": b"a=1\r\nb=3\nc=3\n"},
        controls={"YW-C-A-001": 1, "YW-C-A-002": 1},
    ),
    "regexp_matching_every_line": Case(
        files={"f": b"a\nb\nc\n"},
        edits=[_edit("YW-C-A-001", "z", "^")],
        after={"f": b"a\nb\nz\n"},
        controls={"YW-C-A-001": 1},
    ),
    "utf8_text": Case(
        files={"f": "# 注释\n名称=旧\n".encode()},
        edits=[_edit("YW-C-A-001", "名称=新", "^名称=")],
        after={"f": "# 注释\n名称=新\n".encode()},
        controls={"YW-C-A-001": 1},
    ),
    "backreference_not_expanded": Case(
        files={"f": b"opt=1\n"},
        edits=[_edit("YW-C-A-001", r"\1=x $HOME %s", r"^(opt)=")],
        after={"f": b"\\1=x $HOME %s\n"},
        controls={"YW-C-A-001": 1},
    ),
    "line_ending_in_a_newline": Case(  # a YAML block scalar's line
        files={"f": b"t=0\n"},
        edits=[_edit("YW-C-A-001", "t=1\n", "^t=")],
        after={"f": b"t=1\n"},
        controls={"YW-C-A-001": 1},
    ),
    "sequential_edits_of_one_file": Case(
        files={"f": b"a=1\n"},
        edits=[
            _edit("YW-C-A-001", "a=2", "^a="),
            _edit("YW-C-A-002", "a=2"),  # set by the line before: unchanged
            _edit("YW-C-A-003", "b=1", "^b="),
            _edit("YW-C-A-003", "b=1"),
            _edit("YW-C-A-003", "c=1", "^c="),
        ],
        after={"f": b"a=2\nb=1\nc=1\n"},
        controls={"YW-C-A-001": 1, "YW-C-A-003": 2},
    ),
    "mode_only_change": Case(
        files={"f": b"a=1\n"},
        modes={"f": 0o644},
        edits=[_edit("YW-C-A-001", "a=1", "^a=", mode="0600")],
        after={"f": b"a=1\n"},
        controls={"YW-C-A-001": 1},
    ),
    "owner_and_group_already_set": Case(
        files={"f": b"a=1\n"},
        modes={"f": 0o640},
        edits=[_edit("YW-C-A-001", "a=1", "^a=", owner=USER, group=GROUP, mode="0640")],
        after={"f": b"a=1\n"},
        controls={},
    ),
    "check_mode_missing_file": Case(
        files={},
        edits=[_edit("YW-C-A-001", "k=v", "^k=", path="sub/new.conf", mode="0600")],
        after={"sub/new.conf": None, "sub": None},
        controls={"YW-C-A-001": 1},
        check=True,
    ),
    "check_mode_replace": Case(
        files={"f": b"a=1\nb=2\n"},
        edits=[_edit("YW-C-A-001", "b=3", "^b=")],
        after={"f": b"a=1\nb=2\n"},
        controls={"YW-C-A-001": 1},
        check=True,
    ),
    "check_mode_mode_only": Case(
        files={"f": b"a=1\n"},
        modes={"f": 0o644},
        edits=[_edit("YW-C-A-001", "a=1", mode="0600")],
        after={"f": b"a=1\n"},
        controls={"YW-C-A-001": 1},
        check=True,
    ),
    "check_mode_unchanged": Case(
        files={"f": b"a=1\n"},
        edits=[_edit("YW-C-A-001", "a=1", "^a=")],
        after={"f": b"a=1\n"},
        controls={},
        check=True,
    ),
    "symlinked_file": Case(
        files={"target": b"a=1\n"},
        links={"f": "target"},
        edits=[_edit("YW-C-A-001", "a=2", "^a=")],
        after={"target": b"a=2\n"},
        controls={"YW-C-A-001": 1},
    ),
    "selection_by_switch_and_level": Case(
        files={},
        level=3,
        switches={"on": True, "off": False, "no": "no", "yes": "yes", "zero": 0},
        edits=[
            _edit("YW-C-A-001", "x", path="on", switch="on", levels=[3, 4]),
            _edit("YW-C-A-002", "x", path="off", switch="off"),
            _edit("YW-C-A-003", "x", path="no", switch="no"),
            _edit("YW-C-A-004", "x", path="level4", switch="yes", levels=[4]),
            _edit("YW-C-A-005", "x", path="unlisted", switch="unlisted", levels=[2, 3]),
            _edit("YW-C-A-006", "x", path="zero", switch="zero"),
            _edit("YW-C-A-007", "x", path="yes", switch="yes", levels=["3"]),
        ],
        applied=["YW-C-A-001", "YW-C-A-005", "YW-C-A-007"],
        after={"on": b"x\n", "unlisted": b"x\n", "yes": b"x\n", "off": None, "no": None},
        controls={"YW-C-A-001": 1, "YW-C-A-005": 1, "YW-C-A-007": 1},
    ),
    "selection_by_tags": Case(
        files={},
        only=["mlps_audit", "YW-C-ID-002", "some_other_tag"],
        edits=[
            _edit("YW-C-AU-001", "x", path="au1", area="audit"),
            _edit("YW-C-AU-002", "x", path="au2", area="audit"),
            _edit("YW-C-ID-001", "x", path="id1", area="identity"),
            _edit("YW-C-ID-002", "x", path="id2", area="identity"),
        ],
        applied=["YW-C-AU-001", "YW-C-AU-002", "YW-C-ID-002"],
        after={"au1": b"x\n", "au2": b"x\n", "id1": None, "id2": b"x\n"},
        controls={"YW-C-AU-001": 1, "YW-C-AU-002": 1, "YW-C-ID-002": 1},
    ),
    "selection_without_mlps_tags_is_all": Case(
        files={},
        only=["all", "fix"],
        edits=[
            _edit("YW-C-AU-001", "x", path="au1", area="audit"),
            _edit("YW-C-ID-001", "x", path="id1", area="identity"),
        ],
        after={"au1": b"x\n", "id1": b"x\n"},
        controls={"YW-C-AU-001": 1, "YW-C-ID-001": 1},
    ),
}
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
    for name, case in CASES.items():
        _setup(tmp / name / "m", case)
        _setup(tmp / name / "l", case)
    out = tmp / "results.json"
    playbook = tmp / "playbook.yml"
    playbook.write_text(json.dumps(_playbook(tmp, out)))
    env = {
        **os.environ,
        "ANSIBLE_LIBRARY": str(ROLE / "library"),
        "ANSIBLE_MODULE_UTILS": str(ROLE / "module_utils"),
        "ANSIBLE_LOCAL_TEMP": str(tmp / ".ansible-local"),
        "ANSIBLE_REMOTE_TMP": str(tmp / ".ansible-remote"),
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_PIPELINING": "true",
    }
    command = [str(ANSIBLE_PLAYBOOK), "-i", ",".join(["localhost", *CASES]) + ","]
    command += [
        "-c",
        "local",
        "-f",
        "8",
        "-e",
        f"ansible_python_interpreter={PYTHON}",
        str(playbook),
    ]
    proc = subprocess.run(
        command, cwd=tmp, env=env, capture_output=True, text=True, timeout=180, check=False
    )
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
