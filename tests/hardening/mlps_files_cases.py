"""The cases tests/hardening/test_mlps_files.py runs mlps_files and ansible.builtin.file
and copy on: what each starts with, its tasks and selection, and what it must report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

OLD = 1_000_000_000  # the mtime every case's files start with
DIR = None  # a directory in a case's setup
ROOT = "ROOT/"  # path, dest and src values start here: the case's own copy


@dataclass(frozen=True)
class Task:
    """One file or copy task of a control: its arguments per loop item."""

    action: str  # file or copy
    items: Sequence[Mapping[str, Any]]
    switch: str = "mlps_sw"
    levels: Sequence[int] = (2, 3)


@dataclass(frozen=True)
class Case:
    setup: Mapping[str, bytes | None]  # name -> content (DIR: a directory)
    tasks: Sequence[Task]
    changed: Sequence[int]  # the tasks (by index) that change the host
    fails: int | None = None  # the task that fails the run (the later ones never run)
    check: bool = False
    links: Mapping[str, str] = field(default_factory=dict)  # name -> target
    modes: Mapping[str, int] = field(default_factory=dict)
    owners: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # name -> owner, group

    def applied(self) -> list[int]:
        """The tasks the selection keeps (switch on, level 3)."""
        return [
            number
            for number, task in enumerate(self.tasks)
            if task.switch == "mlps_sw" and 3 in task.levels
        ]


def _file(path: str, **args: Any) -> Task:
    return Task("file", [{"path": ROOT + path, **args}])


def _copy(dest: str, content: str, **args: Any) -> Task:
    return Task("copy", [{"dest": ROOT + dest, "content": content, **args}])


ROOT_644 = {"owner": "root", "group": "root", "mode": "0644"}
CASES: dict[str, Case] = {
    "attributes_changed": Case(
        setup={"a": b"a\n", "b": b"b\n"},
        modes={"a": 0o666, "b": 0o644},
        owners={"b": ("daemon", "adm")},
        tasks=[_file("a", **ROOT_644), _file("b", owner="root", group="root", mode="0640")],
        changed=[0, 1],
    ),
    "attributes_already_right": Case(
        setup={"a": b"a\n", "d": DIR},
        modes={"a": 0o644, "d": 0o700},
        tasks=[_file("a", **ROOT_644), _file("d", state="directory", mode="0700")],
        changed=[],
    ),
    "directories_created_with_their_parents": Case(
        setup={},
        tasks=[_file("x/y/z", state="directory", owner="daemon", group="adm", mode="0700")],
        changed=[0],
    ),
    "directory_mode_fixed": Case(
        setup={"d": DIR},
        modes={"d": 0o777},
        tasks=[_file("d", state="directory", **ROOT_644)],
        changed=[0],
    ),
    "absent_file_directory_and_nothing": Case(
        setup={"f": b"f\n", "d": DIR, "d/inner": b"i\n"},
        tasks=[_file("f", state="absent"), _file("d", state="absent"), _file("n", state="absent")],
        changed=[0, 1],
    ),
    "absent_symlink_only": Case(
        setup={"target": b"t\n"},
        links={"l": "target"},
        tasks=[_file("l", state="absent")],
        changed=[0],
    ),
    "links_made_and_kept": Case(
        setup={"one": b"1\n"},
        links={"kept": "one"},
        tasks=[
            _file("new", state="link", src=ROOT + "one"),
            _file("kept", state="link", src="one"),
        ],
        changed=[0],
    ),
    "links_repointed_and_relative": Case(
        setup={"one": b"1\n", "two": b"2\n"},
        links={"moved": "one"},
        tasks=[
            _file("moved", state="link", src="two"),
            _file("relative", state="link", src="two"),
        ],
        changed=[0, 1],
    ),
    "attributes_through_a_symlink": Case(
        setup={"target": b"t\n"},
        modes={"target": 0o600},
        links={"l": "target"},
        tasks=[_file("l", mode="0644"), _file("l", state="file", group="adm")],
        changed=[0, 1],
    ),
    "state_of_what_is_there": Case(
        setup={"d": DIR, "f": b"f\n"},
        modes={"d": 0o755, "f": 0o600},
        tasks=[_file("d", mode="0750"), _file("f", mode="0600")],
        changed=[0],
    ),
    "copy_new_same_and_different": Case(
        setup={"same": b"same\n", "other": b"old\n"},
        modes={"same": 0o644, "other": 0o644},
        tasks=[
            _copy("new", "new\n", **ROOT_644),
            _copy("same", "same\n", **ROOT_644),
            _copy("other", "new\n", owner="root", group="root", mode="0600"),
        ],
        changed=[0, 2],
    ),
    "copy_mode_only_and_no_mode": Case(
        setup={"modeonly": b"m\n"},
        modes={"modeonly": 0o666},
        tasks=[_copy("modeonly", "m\n", **ROOT_644), _copy("nomode", "no newline, no mode")],
        changed=[0, 1],
    ),
    "copy_replaces_a_symlink_not_its_target": Case(
        setup={"target": b"t\n", "same": b"x\n"},
        links={"l": "target", "l2": "same"},
        tasks=[_copy("l", "new\n", **ROOT_644), _copy("l2", "x\n", **ROOT_644)],
        changed=[0, 1],
    ),
    "copy_validated": Case(
        setup={"v": b"old\n"},
        tasks=[_copy("v", "ok\n", mode="0440", validate="/usr/bin/grep -q ok %s")],
        changed=[0],
    ),
    "loop_counts_once_and_order_is_kept": Case(
        setup={"a": b"a\n"},
        modes={"a": 0o644},
        tasks=[
            Task(
                "file",
                [
                    {"path": ROOT + "a", "mode": "0644"},
                    {"path": ROOT + "d1", "state": "directory", "mode": "0700"},
                ],
            ),
            Task(
                "copy",
                [
                    {"dest": ROOT + "d1/x", "content": "x\n", "mode": "0600"},
                    {"dest": ROOT + "d1/y", "content": "y\n", "mode": "0600"},
                ],
            ),
            Task("file", [{"path": ROOT + "a", "mode": "0644"}]),
        ],
        changed=[0, 1],
    ),
    "selection_by_switch_and_level": Case(
        setup={"a": b"a\n"},
        modes={"a": 0o644},
        tasks=[
            Task("file", [{"path": ROOT + "a", "mode": "0600"}], switch="mlps_off"),
            Task("file", [{"path": ROOT + "a", "mode": "0640"}], levels=(2,)),
            Task("copy", [{"dest": ROOT + "b", "content": "b\n"}], levels=(3,)),
        ],
        changed=[2],
    ),
    "check_mode_writes_nothing": Case(
        setup={"a": b"a\n", "gone": b"g\n", "one": b"1\n"},
        modes={"a": 0o666},
        tasks=[
            _file("a", **ROOT_644),
            _file("gone", state="absent"),
            _file("link", state="link", src=ROOT + "one"),
        ],
        changed=[0, 1, 2],
        check=True,
    ),
    "check_mode_sees_no_new_directory": Case(
        setup={"c": b"old\n"},
        modes={"c": 0o644},
        tasks=[
            _file("newdir/sub", state="directory", mode="0700"),
            _copy("newdir/sub/f", "f\n", mode="0600"),
            _copy("c", "old\n", mode="0600"),
        ],
        changed=[0, 1, 2],
        check=True,
    ),
    "fails_on_a_missing_file_and_stops": Case(
        setup={"a": b"a\n"},
        modes={"a": 0o666},
        tasks=[_file("a", mode="0644"), _file("missing", mode="0644"), _file("a", mode="0600")],
        changed=[0],
        fails=1,
    ),
    "fails_on_a_directory_over_a_file": Case(
        setup={"f": b"f\n"}, tasks=[_file("f", state="directory")], changed=[], fails=0
    ),
    "fails_on_a_link_over_a_file": Case(
        setup={"f": b"f\n", "t": b"t\n"},
        tasks=[_file("f", state="link", src=ROOT + "t")],
        changed=[],
        fails=0,
    ),
    "fails_on_a_link_to_nothing": Case(
        setup={}, tasks=[_file("l", state="link", src=ROOT + "nothing")], changed=[], fails=0
    ),
    "fails_on_copy_into_a_missing_directory": Case(
        setup={}, tasks=[_copy("no/such/f", "x\n")], changed=[], fails=0
    ),
    "fails_on_copy_over_a_directory": Case(
        setup={"d": DIR}, tasks=[_copy("d", "x\n")], changed=[], fails=0
    ),
    "fails_validation_and_leaves_the_file": Case(
        setup={"v": b"old\n"},
        tasks=[_copy("v", "bad\n", mode="0440", validate="/usr/bin/grep -q ok %s")],
        changed=[],
        fails=0,
    ),
}
