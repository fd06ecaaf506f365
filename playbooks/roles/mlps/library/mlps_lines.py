#!/usr/bin/python3
"""Ansible module: set the mlps role's configuration lines, many controls in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_lines
short_description: Set many controls' configuration lines in one call (lineinfile's way)
description:
  - Each entry is one control's ansible.builtin.lineinfile edit (path, line, an optional regexp,
    owner, group, mode; the file is created when missing), applied exactly as lineinfile
    would, in order, so the role sets an area's lines in one ssh round trip and one Python
    start on the host instead of one per line.
  - A control's entries are applied when its switch is on, its levels include the host's and
    the run's tags select it (as mlps_check decides).
  - Reports, per control, how many of its lines changed.
options:
  lines:
    description: The edits, each with id (the control), area, switch, levels, path, line and optional regexp, owner, group, mode.
    type: list
    elements: dict
    required: true
  level:
    description: The host's MLPS level.
    type: int
    required: true
  switches:
    description: Each control's switch variable and its value; a false one skips the control.
    type: dict
    default: {}
  only:
    description: The run's tags; when they name control ids or areas (mlps_<area>), only those are applied.
    type: list
    elements: str
    default: [all]
author: yunwang
"""

RETURN = r"""
controls:
  description: Control id to the number of its lines (content, owner, group or mode) that changed.
  type: dict
  returned: always
"""

import os  # noqa: E402 (Ansible modules put DOCUMENTATION first)
import re  # noqa: E402
import tempfile  # noqa: E402
from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]  # noqa: E402
from ansible.module_utils.mlps_select import SELECTION_ARGS, selected  # type: ignore[import-untyped]  # noqa: E402


def _set_line(lines: list[bytes], line: bytes, regexp: bytes | None) -> bool:
    """lineinfile's state=present without insertafter/insertbefore: replace the
    last line the regexp matches, else the last identical line, else append."""
    index = -1
    if regexp is not None:
        pattern = re.compile(regexp)
        for number, current in enumerate(lines):
            if pattern.search(current):
                index = number
    if index == -1:
        for number, current in enumerate(lines):
            if current.rstrip(b"\r\n") == line:
                index = number
    new = line + b"\n"
    if index != -1:
        if line.endswith(b"\n"):  # lineinfile adds none to a replacing line that has one
            new = line
        if lines[index] == new:
            return False
        lines[index] = new
        return True
    if lines and lines[-1][-1:] not in (b"\n", b"\r"):
        lines.append(b"\n")
    lines.append(new)
    return True


class WriteFailed(Exception):
    pass


def _write(module: Any, path: str, lines: list[bytes]) -> None:
    """As lineinfile writes: a temporary file, moved over the old one (over a
    symlink's target, keeping the link, as lineinfile does). A file that
    cannot be written raises WriteFailed, so the caller can still report
    what the files before it changed."""
    directory = os.path.dirname(path)
    try:
        if directory and not os.path.exists(directory):
            os.makedirs(directory)
        handle, temporary = tempfile.mkstemp(dir=module.tmpdir)
        with os.fdopen(handle, "wb") as out:
            out.writelines(lines)
        module.atomic_move(temporary, os.path.realpath(path))
    except Exception as exc:  # ansible-core's atomic_move raises a bare Exception
        cause = exc if isinstance(exc, OSError) else exc.__cause__
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else exc
        raise WriteFailed(f"{path}: {reason}") from exc


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "lines": {"type": "list", "elements": "dict", "required": True},
            **SELECTION_ARGS,
        },
        supports_check_mode=True,
    )
    level, switches, only = module.params["level"], module.params["switches"], module.params["only"]
    entries = [e for e in module.params["lines"] if selected(e, level, switches, only)]
    contents: dict[str, list[bytes]] = {}
    edited: set[str] = set()
    changed = [False] * len(entries)
    for number, entry in enumerate(entries):
        path = str(entry["path"])
        if path not in contents:
            contents[path] = []
            if os.path.exists(path):
                with open(path, "rb") as current:
                    contents[path] = current.readlines()
        regexp = entry.get("regexp")
        line = str(entry["line"]).encode()
        if _set_line(contents[path], line, None if regexp is None else str(regexp).encode()):
            edited.add(path)
            changed[number] = True
    failure = ""
    if not module.check_mode:
        written: set[str] = set()
        for path in sorted(edited):
            try:
                _write(module, path, contents[path])
            except WriteFailed as exc:
                failure = str(exc)
                break
            written.add(path)
        if failure:
            # What the files written before this one changed stays changed:
            # it is counted, and nothing more is touched.
            changed = [
                c and str(e["path"]) in written for c, e in zip(changed, entries, strict=True)
            ]
    for number, entry in enumerate([] if failure else entries):
        path = str(entry["path"])
        if not os.path.exists(path):
            continue  # check mode, and the file still to be created
        for key, setter in (
            ("owner", module.set_owner_if_different),
            ("group", module.set_group_if_different),
            ("mode", module.set_mode_if_different),
        ):
            if entry.get(key) is not None and setter(path, str(entry[key]), False):
                changed[number] = True
    counts: dict[str, int] = {}
    for entry, was_changed in zip(entries, changed, strict=True):
        if was_changed:
            counts[str(entry["id"])] = counts.get(str(entry["id"]), 0) + 1
    if failure:
        module.fail_json(msg=failure, changed=bool(counts), controls=counts)
    module.exit_json(changed=bool(counts), controls=counts)


if __name__ == "__main__":
    main()
