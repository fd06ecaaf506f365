"""Running the mlps role's own modules beside Ansible's builtins on local files
(test harness for test_mlps_lines.py and test_mlps_files.py): one
ansible-playbook run, a local connection, the role's library/ and
module_utils/, one inventory host per case so the cases run side by side."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

Case = TypeVar("Case")

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "playbooks" / "roles" / "mlps"
ANSIBLE_PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"
PYTHON = REPO / ".venv" / "bin" / "python"


def run_local(
    tmp: Path, playbook: Path, hosts: Iterable[str], forks: int
) -> subprocess.CompletedProcess[str]:
    """ansible-playbook on `playbook` with `localhost` and `hosts` as local
    hosts, its temporary files under `tmp`; the caller judges the exit code."""
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
    command = [str(ANSIBLE_PLAYBOOK), "-i", ",".join(["localhost", *hosts]) + ","]
    command += ["-c", "local", "-f", str(forks), "-e", f"ansible_python_interpreter={PYTHON}"]
    return subprocess.run(
        [*command, str(playbook)],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def run_cases(
    tmp: Path,
    cases: Mapping[str, Case],
    setup: Callable[[Path, Case], None],
    sides: tuple[str, str],
    plays: Callable[[Path, Path], list[dict[str, Any]]],
    forks: int,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Every case set up twice (`setup(tmp / case / side, case)`: once for the
    role's module, once for the builtin it stands for), then the plays
    `plays(tmp, results)` give run in one ansible-playbook: the process and
    the file the plays write their results to."""
    for name, case in cases.items():
        for side in sides:
            setup(tmp / name / side, case)
    out = tmp / "results.json"
    playbook = tmp / "playbook.yml"
    playbook.write_text(json.dumps(plays(tmp, out)))
    return run_local(tmp, playbook, cases, forks), out
