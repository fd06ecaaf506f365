"""Run a playbook through ansible-runner and stream its events.

Generic on purpose: any role in playbooks/roles (hardening, IPv6, dual links,
DR) runs through `run_playbook`, which hands each ansible-runner event, as it
happens, to a callback, and returns the per-host recap. Every run gets its
own private data directory (ansible-runner keeps the command line it was
given in `env/cmdline` and later runs would inherit it) that is removed
afterwards, with the secrets it held.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PLAYBOOKS_DIR = Path(__file__).parent
ROLES_DIR = PLAYBOOKS_DIR / "roles"


def lab_connection() -> dict[str, str]:
    """How Ansible reaches a lab router: FRR runs on this machine (in its
    namespace), driven by this interpreter's Ansible modules."""
    return {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}


# What the callback sees per event; ansible-runner's own dict.
RunnerEvent = dict[str, Any]


class RunError(Exception):
    """The run could not start (no ansible-playbook, bad playbook path)."""


@dataclass
class HostRecap:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0


@dataclass
class RunResult:
    status: str  # ansible-runner's: successful, failed, timeout, canceled
    rc: int
    hosts: dict[str, HostRecap] = field(default_factory=dict)


def _search_path() -> str:
    """PATH with this interpreter's directory first: ansible-runner starts
    `ansible-playbook` by name, and the one beside yunwang (its venv) is the
    one pyproject pins."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    if shutil.which("ansible-playbook", path=path) is None:
        raise RunError("ansible-playbook not found: install ansible-core (pip install -e .)")
    return path


def run_playbook(
    playbook: str | Path,
    inventory: Mapping[str, Any],
    *,
    extravars: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (),
    limit: Sequence[str] = (),
    on_event: Callable[[RunnerEvent], None] | None = None,
    forks: int = 20,
    timeout_s: int = 3600,
    check: bool = False,
) -> RunResult:
    """Run `playbook` (a path, or a name in playbooks/) against `inventory`;
    `check` runs it in Ansible's check mode (--check --diff)."""
    import ansible_runner  # type: ignore[import-untyped]  # here: `yunwang --help` should not pay for it

    path = Path(playbook)
    if not path.is_absolute():
        path = PLAYBOOKS_DIR / path
    if not path.is_file():
        raise RunError(f"{path}: no such playbook")
    private = Path(tempfile.mkdtemp(prefix="yunwang-run-"))
    # ssh's control socket path must stay short (108 bytes): keep it in /tmp.
    control = Path(tempfile.mkdtemp(prefix="ywcp-", dir="/tmp"))
    try:
        (private / "inventory").mkdir(mode=0o700)
        (private / "inventory" / "hosts.json").write_text(json.dumps(inventory))

        def handler(event: RunnerEvent) -> bool:
            if on_event is not None:
                on_event(event)
            return False  # consumed here: nothing written to the artifacts dir

        runner = ansible_runner.run(
            private_data_dir=str(private),
            playbook=str(path),
            extravars=dict(extravars or {}),
            tags=",".join(tags) or None,
            limit=",".join(limit) or None,
            cmdline="--check --diff" if check else None,
            forks=forks,
            quiet=True,
            event_handler=handler,
            timeout=timeout_s,
            envvars={
                "PATH": _search_path(),
                "ANSIBLE_ROLES_PATH": str(ROLES_DIR),
                "ANSIBLE_PIPELINING": "True",
                "ANSIBLE_HOST_KEY_CHECKING": "False",
                "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control),
                "ANSIBLE_RETRY_FILES_ENABLED": "False",
                "ANSIBLE_NOCOLOR": "True",
                # The inventory is always the hosts.json written above: the
                # yaml plugin reads it, and not trying the others first saves
                # ~0.15 CPU-s of every run (ansible-playbook's start is ~1 s).
                "ANSIBLE_INVENTORY_ENABLED": "yaml",
            },
        )
        return RunResult(runner.status, runner.rc or 0, _recap(runner.stats or {}))
    finally:
        shutil.rmtree(private, ignore_errors=True)
        shutil.rmtree(control, ignore_errors=True)


def _recap(stats: Mapping[str, Mapping[str, int]]) -> dict[str, HostRecap]:
    hosts: dict[str, HostRecap] = {}
    for key, attr in (
        ("ok", "ok"),
        ("changed", "changed"),
        ("failures", "failed"),
        ("dark", "unreachable"),
        ("skipped", "skipped"),
    ):
        for host, count in (stats.get(key) or {}).items():
            setattr(hosts.setdefault(host, HostRecap()), attr, int(count))
    return hosts
