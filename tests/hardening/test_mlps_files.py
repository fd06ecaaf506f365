"""The mlps role's mlps_files module against ansible.builtin.file and copy, on local files.

Every case sets up the same files twice under a temporary directory, runs
mlps_files (as Ansible runs it: the role's library/ and module_utils/, a
local connection) on one copy and the builtin file and copy modules on the
other, one task per task (a loop for its items), all in one ansible-playbook
run: the cases that succeed share one mlps_files call (and then a second one
that must change nothing), check-mode cases another, a failing case has its
own on a host of its own (side by side); the builtins run one host per case, side by side, stopping at a failed
task as a play does. Each case is then compared: what is left on disk (kind,
content or link target, mode, owner, group, whether it was rewritten), which
tasks changed the host, and which one failed.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.hardening.local_ansible import run_cases
from tests.hardening.mlps_files_cases import CASES, DIR, OLD, ROOT, Case

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="owners are changed: needs root")

SEP = "|"  # an entry's control id is case|T<task>
BATCHES = {
    "plain": [n for n, c in CASES.items() if c.fails is None and not c.check],
    "check": [n for n, c in CASES.items() if c.fails is None and c.check],
}
FAILING = [n for n, c in CASES.items() if c.fails is not None]  # a call each, on its own host
CHECKED = [n for n, c in CASES.items() if c.check]
FILE_ARGS = ("path", "state", "src", "owner", "group", "mode")
COPY_ARGS = ("dest", "content", "owner", "group", "mode", "validate")


def _setup(root: Path, case: Case) -> None:
    root.mkdir(parents=True)
    for name, content in case.setup.items():
        if content is DIR:
            (root / name).mkdir()
        else:
            (root / name).write_bytes(content)
    for name, target in case.links.items():
        (root / name).symlink_to(target)
    for name, mode in case.modes.items():
        (root / name).chmod(mode)
    for name, (owner, group) in case.owners.items():
        os.chown(root / name, pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid)
    for name in case.setup:
        os.utime(root / name, (OLD, OLD))


def _rooted(root: Path, args: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: str(root / v[len(ROOT) :]) if isinstance(v, str) and v.startswith(ROOT) else v
        for k, v in args.items()
    }


def _entries(tmp: Path, name: str) -> list[dict[str, Any]]:
    case = CASES[name]
    return [
        {
            "id": f"{name}{SEP}T{number}",
            "area": "access",
            "switch": task.switch,
            "levels": list(task.levels),
            "task": f"{name} T{number}",
            "action": task.action,
            **_rooted(tmp / name / "m", item),
        }
        for number, task in enumerate(case.tasks)
        for item in task.items
    ]


def _builtin_plays(cases: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One play per task position: the cases that have a task there run it,
    side by side, as file or copy (a loop over its items). A case whose task
    failed is out of the later plays, as a play stops a host."""
    omit = "{{ item.%s | default(omit) }}"
    plays = []
    for number in range(max(len(tasks) for tasks in cases.values())):
        for module, args in (("file", FILE_ARGS), ("copy", COPY_ARGS)):
            hosts = [
                n for n, t in cases.items() if len(t) > number and t[number]["action"] == module
            ]
            if not hosts:
                continue
            task = {
                "name": f"{module} {number}",
                f"ansible.builtin.{module}": {k: omit % k for k in args},
                "loop": f"{{{{ builtin[inventory_hostname][{number}]['items'] }}}}",
                "check_mode": f"{{{{ inventory_hostname in {CHECKED} }}}}",
                "register": f"r{number}",
            }
            plays.append(
                {
                    "hosts": ",".join(hosts),
                    "gather_facts": False,
                    "vars": {"builtin": {h: cases[h] for h in hosts}},
                    "tasks": [task],
                }
            )
    return plays


def _playbook(tmp: Path, out: Path) -> list[dict[str, Any]]:
    mine: list[dict[str, Any]] = []
    registered: list[str] = []
    for run in ("first", "again"):
        for batch, names in BATCHES.items():
            if run == "again" and batch != "plain":
                continue
            register = f"m_{batch}_{run}"
            mine.append(
                {
                    "name": register,
                    "mlps_files": {
                        "level": 3,
                        "switches": {"mlps_sw": True, "mlps_off": False},
                        "files": [e for name in names for e in _entries(tmp, name)],
                    },
                    "check_mode": CASES[names[0]].check,
                    "register": register,
                }
            )
            registered.append(register)
    builtin = {
        name: [
            {
                "action": case.tasks[n].action,
                "items": [_rooted(tmp / name / "b", i) for i in case.tasks[n].items],
            }
            for n in case.applied()
        ]
        for name, case in CASES.items()
    }
    width = max(len(tasks) for tasks in builtin.values())
    # Each case's registered results by position (none: never ran).
    theirs = ", ".join(
        f"'{name}': [{', '.join(f'hostvars[{name!r}].r{n} | default(none)' for n in range(width))}]"
        for name in CASES
    )
    own = ", ".join(f"'{name}': hostvars[{name!r}].m_own" for name in FAILING)
    results = (
        "{{ dict(registered | zip(q('ansible.builtin.vars', *registered)))"
        f" | combine({{'builtin': {{{theirs}}}, 'own': {{{own}}}}}) | to_json }}}}"
    )
    failing = {
        "name": "m_own",
        "mlps_files": {"level": 3, "files": "{{ own[inventory_hostname] }}"},
        "ignore_errors": True,
        "register": "m_own",
    }
    return [
        {"hosts": "localhost", "gather_facts": False, "tasks": mine},
        {
            "hosts": ",".join(FAILING),
            "gather_facts": False,
            "vars": {"own": {name: _entries(tmp, name) for name in FAILING}},
            "tasks": [failing],
        },
        *_builtin_plays(builtin),
        {
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {"registered": registered},
            "tasks": [{"ansible.builtin.copy": {"dest": str(out), "content": results}}],
        },
    ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """All cases in one ansible-playbook run: the directory and the results."""
    tmp = tmp_path_factory.mktemp("mlps_files")
    proc, out = run_cases(tmp, CASES, _setup, ("m", "b"), _playbook, forks=12)
    # 2: the failing cases' hosts failed (as they should; the results say where).
    assert proc.returncode in (0, 2) and out.exists(), proc.stdout[-5000:] + proc.stderr[-5000:]
    return tmp, json.loads(out.read_text())


def _tree(root: Path) -> dict[str, tuple[str, bytes, int, int, int, bool]]:
    """Every entry under root: its kind, content (a link's target), permission
    bits, owner, group, and whether it was left unwritten (its old mtime)."""
    tree = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            kind, content = "link", os.readlink(path).replace(str(root), "ROOT").encode()
        elif path.is_dir():
            kind, content = "dir", b""
        else:
            kind, content = "file", path.read_bytes()
        old = kind == "file" and info.st_mtime == OLD
        mode = 0 if kind == "link" else stat.S_IMODE(info.st_mode)
        tree[str(path.relative_to(root))] = (kind, content, mode, info.st_uid, info.st_gid, old)
    return tree


def _mine(results: Mapping[str, Any], name: str, run: str = "first") -> tuple[set[int], str]:
    """The tasks mlps_files changed for this case, and its failure message."""
    if name in FAILING:
        result = results["own"][name]
    else:
        batch = next(b for b, names in BATCHES.items() if name in names)
        result = results[f"m_{batch}_{run}"]
    changed = {
        int(key.split(SEP)[1][1:])
        for key, count in result["controls"].items()
        if key.split(SEP)[0] == name and count == 1
    }
    return changed, str(result.get("msg", "")) if result.get("failed") else ""


def _builtin(results: Mapping[str, Any], case: Case, name: str) -> tuple[set[int], int | None]:
    """The tasks the builtins changed for this case, and the one that failed."""
    registered = results["builtin"][name]
    changed, failed = set(), None
    for position, number in enumerate(case.applied()):
        result = registered[position]
        if result is None:
            break  # after a failure: never ran
        if result.get("failed"):
            failed = number
            break
        if result.get("changed"):
            changed.add(number)
    return changed, failed


@pytest.mark.parametrize("name", list(CASES))
def test_mlps_files_as_file_and_copy(name: str, runs: tuple[Path, dict[str, Any]]) -> None:
    tmp, results = runs
    case = CASES[name]
    changed, failure = _mine(results, name)
    assert changed == set(case.changed)
    assert _builtin(results, case, name) == (set(case.changed), case.fails)
    if case.fails is None:
        assert failure == ""
    else:
        assert failure.startswith(f"{name} T{case.fails}: "), failure
    assert _tree(tmp / name / "m") == _tree(tmp / name / "b")
    if case.check:
        fresh = tmp / name / "fresh"
        _setup(fresh, case)
        assert _tree(tmp / name / "m") == _tree(fresh)
    if case.fails is None and not case.check:
        assert _mine(results, name, "again") == (set(), "")


def test_created_directories_and_links_as_written(runs: tuple[Path, dict[str, Any]]) -> None:
    tmp, _ = runs
    made = tmp / "directories_created_with_their_parents" / "m"
    for path in (made / "x", made / "x" / "y", made / "x" / "y" / "z"):
        info = path.stat()
        assert (stat.S_IMODE(info.st_mode), pwd.getpwuid(info.st_uid).pw_name) == (0o700, "daemon")
    links = tmp / "links_repointed_and_relative" / "m"
    assert os.readlink(links / "moved") == "two" and os.readlink(links / "relative") == "two"
    replaced = tmp / "copy_replaces_a_symlink_not_its_target" / "m"
    assert not (replaced / "l").is_symlink() and (replaced / "target").read_bytes() == b"t\n"
    assert (replaced / "l").read_bytes() == b"new\n"
