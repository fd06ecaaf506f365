#!/usr/bin/python3
"""Ansible module: run the mlps role's read-only checks and report each control."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlps_check
short_description: Run MLPS control checks (read only) and report each one
description:
  - Runs each enabled control's check script with /bin/sh. Exit 0 is pass, 3 is not
    applicable, anything else fail; the script's output is the evidence.
  - Changes nothing, so it also runs under --check.
options:
  controls:
    description: Controls to check, each with id, area, switch (its role variable), levels and script.
    type: list
    elements: dict
    required: true
  level:
    description: The host's MLPS level; a control runs when its levels include it.
    type: int
    required: true
  switches:
    description: Each control's switch variable and its value; a false one skips the control.
    type: dict
    default: {}
  only:
    description: The run's tags; when they name control ids or areas (mlps_<area>), only those are checked.
    type: list
    elements: str
    default: [all]
  kernel_shared:
    description: The host shares its kernel with the machine below (passed to scripts as YW_KERNEL_SHARED=1).
    type: bool
    default: false
  timeout:
    description: Seconds one check may take.
    type: int
    default: 60
author: yunwang
"""

RETURN = r"""
results:
  description: One entry per control checked, with id, status (pass, fail, na) and evidence.
  type: list
  returned: always
"""

import os  # noqa: E402 (Ansible modules put DOCUMENTATION first)
import subprocess  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]  # noqa: E402
from ansible.module_utils.mlps_select import SELECTION_ARGS, selected  # type: ignore[import-untyped]  # noqa: E402

EVIDENCE_MAX = 400


def _run(script: str, env: dict[str, str], timeout: int) -> tuple[str, str]:
    try:
        done = subprocess.run(
            ["/bin/sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "fail", "check timed out"
    evidence = " ".join((done.stdout + done.stderr).split())[-EVIDENCE_MAX:]
    status = {0: "pass", 3: "na"}.get(done.returncode, "fail")
    return status, evidence


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "controls": {"type": "list", "elements": "dict", "required": True},
            **SELECTION_ARGS,
            "kernel_shared": {"type": "bool", "default": False},
            "timeout": {"type": "int", "default": 60},
        },
        supports_check_mode=True,
    )
    env = dict(
        os.environ, LC_ALL="C", YW_KERNEL_SHARED="1" if module.params["kernel_shared"] else "0"
    )
    env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
    results = []
    level, switches = module.params["level"], module.params["switches"]
    for control in module.params["controls"]:
        if not selected(control, level, switches, module.params["only"]):
            continue
        status, evidence = _run(str(control["script"]), env, module.params["timeout"])
        results.append({"id": str(control.get("id", "")), "status": status, "evidence": evidence})
    module.exit_json(changed=False, results=results)


if __name__ == "__main__":
    main()
