"""Which controls a run of the mlps role selects (shared by its modules)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible.module_utils.parsing.convert_bool import boolean  # type: ignore[import-untyped]

# The arguments each of the role's modules selects its controls by (`selected`).
SELECTION_ARGS: dict[str, dict[str, Any]] = {
    "level": {"type": "int", "required": True},
    "switches": {"type": "dict", "default": {}},
    "only": {"type": "list", "elements": "str", "default": ["all"]},
}


def selected(
    control: Mapping[str, Any], level: int, switches: Mapping[str, Any], only: Sequence[str]
) -> bool:
    """A control runs when its switch is on, its levels include the host's,
    and the run's tags (control ids or mlps_<area>) name it or name none."""
    if not boolean(switches.get(str(control.get("switch")), True)):
        return False
    if level not in [int(v) for v in control.get("levels", [])]:
        return False
    named = [t for t in only if t.startswith("YW-C-") or t.startswith("mlps_")]
    return not named or control.get("id") in named or f"mlps_{control.get('area')}" in named
