#!/usr/bin/python3
"""Ansible module: the mlps role's file and copy tasks, many controls in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_files
short_description: Apply many controls' file and copy tasks in one call (their way)
description:
  - Each entry is one ansible.builtin.file task (path, state absent, directory, file or link,
    src for a link, owner, group, mode) or one ansible.builtin.copy task with content (dest,
    content, owner, group, mode, validate), applied exactly as that module would, in order,
    so the role applies a run of them in one ssh round trip and one Python start on the host
    instead of one (two for copy) per task and loop item.
  - A copy's dest that is a directory, or a link to one, is refused (the copy action refuses
    the first; the second is never a control's).
  - An entry is applied when its control's switch is on, its levels include the host's and
    the run's tags select it (as mlps_check decides).
  - Stops at the first entry that fails, as the play would, naming its task.
  - Reports, per control, how many of its tasks changed (a loop's items count once, as
    a task with a loop did).
options:
  files:
    description: The entries, each with id (the control), area, switch, levels, task (its task's name), action (file or copy) and that module's arguments.
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
  description: Control id to the number of its tasks that changed the host.
  type: dict
  returned: always
"""

import contextlib  # noqa: E402 (Ansible modules put DOCUMENTATION first)
import hashlib  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Mapping  # noqa: E402
from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]  # noqa: E402
from ansible.module_utils.mlps_select import SELECTION_ARGS, selected  # type: ignore[import-untyped]  # noqa: E402


class EntryFailed(Exception):
    """The entry's module would have failed the task with this message."""


def _state(path: str) -> str:
    """The file module's name for what is at path."""
    if not os.path.lexists(path):
        return "absent"
    if os.path.islink(path):
        return "link"
    if os.path.isdir(path):
        return "directory"
    return "hard" if os.stat(path).st_nlink > 1 else "file"


def _attributes(module: Any, path: str, entry: Mapping[str, Any], changed: bool) -> bool:
    """Owner, group, then mode, as set_fs_attributes_if_different sets them."""
    for key, setter in (
        ("owner", module.set_owner_if_different),
        ("group", module.set_group_if_different),
        ("mode", module.set_mode_if_different),
    ):
        if entry.get(key) is not None:
            changed = setter(path, str(entry[key]), changed)
    return changed


def _followed(path: str) -> str:
    """The file module follows a symlink to set attributes (follow=true)."""
    return os.path.realpath(path) if os.path.islink(path) else path


def _absent(module: Any, path: str) -> bool:
    state = _state(path)
    if state == "absent":
        return False
    if not module.check_mode:
        if state == "directory":
            shutil.rmtree(path)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    return True


def _directory(module: Any, path: str, entry: Mapping[str, Any]) -> bool:
    if _state(path) == "link":
        path = os.path.realpath(path)
    state = _state(path)
    if state == "absent":
        if module.check_mode:
            return True
        # Every missing directory on the way gets the entry's owner, group and mode.
        changed, current = False, ""
        for part in path.strip("/").split("/"):
            current = f"{current}/{part}"
            if not os.path.exists(current):
                try:
                    os.mkdir(current)
                    changed = True
                except FileExistsError:
                    if not os.path.isdir(current):
                        raise
                changed = _attributes(module, current, entry, changed)
        return changed
    if state != "directory":
        raise EntryFailed(f"{path} already exists as a {state}")
    return _attributes(module, path, entry, False)


def _file(module: Any, path: str, entry: Mapping[str, Any]) -> bool:
    state = _state(path)
    if state == "link":
        path = os.path.realpath(path)
        state = _state(path)
    if state not in ("file", "hard"):
        raise EntryFailed(f"file ({path}) is {state}, cannot continue")
    return _attributes(module, path, entry, False)


def _link(module: Any, path: str, src: str | None, entry: Mapping[str, Any]) -> bool:
    """state=link without force: make path a symlink to src (or keep it)."""
    state = _state(path)
    if src is None and os.path.exists(path):
        src = os.readlink(path)
    here = path if not os.path.islink(path) and os.path.isdir(path) else os.path.dirname(path)
    if src is not None and not os.path.exists(os.path.join(here, src)):
        raise EntryFailed(
            "src file does not exist, use 'force=yes' if you really want to create "
            f"the link: {os.path.join(here, src)}"
        )
    if state in ("directory", "file", "hard"):
        raise EntryFailed(f"refusing to convert from {state} to symlink for {path}")
    changed = False
    if state == "absent":
        if src is None:
            raise EntryFailed("src is required for creating new symlinks")
        changed = True
    elif src is not None and os.readlink(path) != src:
        changed = True
    if changed and not module.check_mode and src is not None:
        if state == "absent":
            os.symlink(src, path)
        else:
            temporary = os.path.join(os.path.dirname(path), f".{os.getpid()}.{time.time()}.tmp")
            os.symlink(src, temporary)
            os.rename(temporary, path)
    if module.check_mode and not os.path.exists(path):
        return changed
    if os.path.islink(path) and not os.path.exists(path):
        module.warn(
            "Cannot set fs attributes on a non-existent symlink target. follow should be"
            " set to False to avoid this."
        )
        return changed
    return _attributes(module, _followed(path), entry, changed)


def _apply_file(module: Any, entry: Mapping[str, Any]) -> bool:
    """As ansible.builtin.file with these arguments (follow, no force, no recurse)."""
    path = str(entry["path"])
    state = entry.get("state")
    src = entry.get("src")
    if state not in ("link", "absent") and os.path.isdir(path) and src:
        path = os.path.join(path, os.path.basename(str(src)))
    if state is None:
        state = _state(path)
        state = "file" if state == "absent" else state
    if src and state not in ("link", "hard"):
        raise EntryFailed("src option requires state to be 'link' or 'hard'")
    if state == "absent":
        return _absent(module, path)
    if state == "directory":
        return _directory(module, path, entry)
    if state == "link":
        return _link(module, path, None if src is None else str(src), entry)
    if state in ("file", "hard"):
        return _file(module, path, entry)
    raise EntryFailed(f"mlps_files does not apply state={state}")


def _apply_copy(module: Any, entry: Mapping[str, Any]) -> bool:
    """As ansible.builtin.copy with content (force, no follow): the action's remote
    stat and checksum, then the copy module, or the file module when unchanged."""
    dest = str(entry["dest"])
    content = str(entry["content"]).encode()
    if os.path.isdir(
        dest
    ):  # the action refuses a directory, the module would write into a linked one
        raise EntryFailed("can not use content with a dir as dest")
    current = None
    if os.path.isfile(dest) and not os.path.islink(dest):
        with open(dest, "rb") as old:
            current = hashlib.sha1(old.read()).hexdigest()
    if current == hashlib.sha1(content).hexdigest():
        return _file(module, dest, entry)
    if module.check_mode:
        return True
    if not os.path.lexists(dest) and not os.path.exists(os.path.dirname(dest)):
        raise EntryFailed(f"Destination directory {os.path.dirname(dest)} does not exist")
    handle, source = tempfile.mkstemp(dir=module.tmpdir, suffix=os.path.splitext(dest)[1])
    with os.fdopen(handle, "wb") as out:
        out.write(content)
    if os.path.islink(dest):
        os.unlink(dest)
        open(dest, "w").close()
    validate = entry.get("validate")
    if validate:
        if entry.get("mode") is not None:
            module.set_mode_if_different(source, str(entry["mode"]), False)
        if entry.get("owner") is not None:
            module.set_owner_if_different(source, str(entry["owner"]), False)
        if entry.get("group") is not None:
            module.set_group_if_different(source, str(entry["group"]), False)
        if "%s" not in str(validate):
            raise EntryFailed(f"validate must contain %s: {validate}")
        rc, out, err = module.run_command(str(validate) % source)
        if rc != 0:
            raise EntryFailed(f"failed to validate: {out}{err}".strip())
    module.atomic_move(source, dest)
    return _attributes(module, dest, entry, True)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "dict", "required": True},
            **SELECTION_ARGS,
        },
        supports_check_mode=True,
    )
    level, switches, only = module.params["level"], module.params["switches"], module.params["only"]
    changed: dict[tuple[str, str], bool] = {}
    failure = ""
    for entry in module.params["files"]:
        if not selected(entry, level, switches, only):
            continue
        key = (str(entry["id"]), str(entry["task"]))
        try:
            apply = _apply_copy if entry.get("action") == "copy" else _apply_file
            changed[key] = apply(module, entry) or changed.get(key, False)
        except (EntryFailed, OSError) as exc:
            failure = f"{entry['task']}: {exc}"
            break
    counts: dict[str, int] = {}
    for (control, _), was_changed in changed.items():
        if was_changed:
            counts[control] = counts.get(control, 0) + 1
    if failure:
        module.fail_json(msg=failure, changed=bool(counts), controls=counts)
    module.exit_json(changed=bool(counts), controls=counts)


if __name__ == "__main__":
    main()
