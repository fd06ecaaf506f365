"""What the rollout's lab tests share: the verb as a user runs it, and vtysh JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from lab.lab import Lab


def yunwang(*args: str) -> subprocess.CompletedProcess[str]:
    """The verb as a user runs it: its own process, stderr a pipe (log lines)."""
    return subprocess.run(
        [sys.executable, "-m", "yunwang", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env=os.environ,
        check=False,
    )


def vtysh_json(lab: Lab, node: str, command: str) -> object:
    done = subprocess.run(
        ["vtysh", "-N", lab.namespace(node), "-c", command],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)
