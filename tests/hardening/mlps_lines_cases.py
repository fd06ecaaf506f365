"""The cases tests/hardening/test_mlps_lines.py runs mlps_lines and lineinfile on:
the files each starts with, its edits and selection, and what it must leave."""

from __future__ import annotations

import grp
import os
import pwd
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
