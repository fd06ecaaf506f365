"""Hardening controls: one YAML file each under roles/mlps/controls/<area>/.

A control is the unit an assessor asks about: an id (`YW-C-AC-001`), the
GB/T 22239-2019 clause it serves, the MLPS levels it applies to, a check that
only reads (a POSIX shell script: exit 0 pass, 3 not applicable, anything
else fail; what it prints is the evidence) and a fix (Ansible tasks that
change nothing on a second run). Like a ComplianceAsCode rule, it also
carries a `break` fixture: the shell that makes the check fail on a real host,
so the tests prove each check can see what it claims to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

ROLE_DIR = Path(__file__).parent / "roles" / "mlps"
CONTROLS_DIR = ROLE_DIR / "controls"
ID_PATTERN = r"^YW-C-[A-Z]{2}-\d{3}$"
MAX_SCRIPT = 4000  # a check longer than this is a program, not a check


@dataclass(frozen=True)
class Area:
    name: str  # task file name: tasks/<name>.yml
    prefix: str  # id prefix: YW-C-<prefix>-NNN
    clause: str  # GB/T 22239-2019 level-3 clause
    title: str  # the standard's own words


# In the standard's order. The fix order differs (see FIX_ORDER).
AREAS: tuple[Area, ...] = (
    Area("identity", "IA", "8.1.4.1", "身份鉴别 identification and authentication"),
    Area("access", "AC", "8.1.4.2", "访问控制 access control"),
    Area("audit", "AU", "8.1.4.3", "安全审计 security audit"),
    Area("intrusion", "IN", "8.1.4.4", "入侵防范 intrusion prevention"),
    Area("malware", "MW", "8.1.4.5", "恶意代码防范 malicious code prevention"),
    Area("trusted", "TV", "8.1.4.6", "可信验证 trusted verification"),
    Area("integrity", "DI", "8.1.4.7", "数据完整性 data integrity"),
    Area("confidentiality", "DC", "8.1.4.8", "数据保密性 data confidentiality"),
    Area("backup", "BR", "8.1.4.9", "数据备份恢复 data backup and recovery"),
    Area("residual", "RI", "8.1.4.10", "剩余信息保护 residual information protection"),
    Area("boundary", "BD", "8.1.3", "安全区域边界 area boundary (the host firewall)"),
    Area("management", "MC", "8.1.5", "安全管理中心 security management centre"),
)
AREA_BY_NAME = {a.name: a for a in AREAS}
# The baseline of file integrity (malware) is taken after everything else
# changed, and the first backup holds the hardened /etc.
_LAST = ("malware", "trusted", "backup")
FIX_ORDER = (*(a.name for a in AREAS if a.name not in _LAST), *_LAST)

Severity = Literal["low", "medium", "high", "critical"]


class ControlError(Exception):
    """A control file that cannot be used; str() is one line: file, path, problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Refusal(_Strict):
    """A Jinja condition under which the fix would lock the operator out."""

    when: str = Field(alias="if", min_length=3, max_length=300)
    reason: str = Field(min_length=10, max_length=300)


class Fixtures(_Strict):
    break_: str = Field(alias="break", min_length=1, max_length=MAX_SCRIPT)


class Control(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=5, max_length=120)
    clause: str = Field(pattern=r"^8\.1\.\d{1,2}(\.\d{1,2})? [a-g]$")
    severity: Severity
    levels: tuple[Literal[2, 3], ...] = Field(min_length=1)
    rationale: str = Field(min_length=20, max_length=600)
    check: str = Field(min_length=5, max_length=MAX_SCRIPT)
    fix: tuple[dict[str, Any], ...] = ()
    manual: str | None = Field(default=None, min_length=5, max_length=200)
    refuse: Refusal | None = None
    fixtures: Fixtures | None = None
    area: str = ""  # from the folder the file sits in

    @property
    def switch(self) -> str:
        """The role variable that turns the control off: mlps_ac_001_enabled."""
        return "mlps_" + self.id.removeprefix("YW-C-").replace("-", "_").lower() + "_enabled"

    @property
    def level_condition(self) -> str:
        return f"mlps_level | int in {list(self.levels)}"


def _load_one(path: Path) -> Control:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ControlError(f"{path}: not readable YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ControlError(f"{path}: expected a mapping with id, title, clause, check, fix")
    area = AREA_BY_NAME.get(path.parent.name)
    if area is None:
        raise ControlError(f"{path}: folder must be one of {', '.join(AREA_BY_NAME)}")
    try:
        control = Control.model_validate({**raw, "area": area.name})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top)"
        raise ControlError(f"{path}: {where}: {err['msg']}") from None
    problems = _consistency(control, area, path)
    if problems:
        raise ControlError(f"{path}: {problems[0]}")
    return control


def _consistency(control: Control, area: Area, path: Path) -> list[str]:
    problems = []
    if path.stem != control.id:
        problems.append(f"id: {control.id} must match the file name {path.stem}")
    if control.id.split("-")[2] != area.prefix:
        problems.append(f"id: controls in {area.name}/ are YW-C-{area.prefix}-NNN")
    if not control.fix and not control.manual:
        problems.append("fix: give the fix tasks, or `manual:` saying what a person must do")
    for i, task in enumerate(control.fix):
        if not isinstance(task.get("name"), str) or not task["name"][:1].isupper():
            problems.append(f"fix.{i}.name: every fix task needs a name starting in capitals")
        if "tags" in task or "block" in task:
            problems.append(f"fix.{i}: tags and blocks are added by the generator")
    if "{#" in control.check:
        problems.append("check: '{#' opens a Jinja comment; write it another way")
    return problems


def load_controls(directory: Path = CONTROLS_DIR) -> list[Control]:
    """Every control, in id order; the first bad file raises ControlError."""
    controls = [_load_one(p) for p in sorted(directory.glob("*/*.yml"))]
    seen: dict[str, str] = {}
    for control in controls:
        if control.id in seen:
            raise ControlError(
                f"{control.area}/{control.id}.yml: duplicate id (also {seen[control.id]})"
            )
        seen[control.id] = control.area
    return sorted(controls, key=lambda c: c.id)


@cache
def catalogue() -> dict[str, Control]:
    """The role's controls by id (loaded once per process)."""
    return {c.id: c for c in load_controls()}


def by_area(controls: Iterable[Control]) -> dict[str, list[Control]]:
    grouped: dict[str, list[Control]] = {a.name: [] for a in AREAS}
    for control in controls:
        grouped[control.area].append(control)
    return grouped


def applies(control: Control, level: int) -> bool:
    return level in control.levels


def resolve_ids(requested: Iterable[str]) -> list[str]:
    """Control ids as the user typed them (any case); unknown ones raise."""
    known = catalogue()
    found = []
    for text in requested:
        cid = text.strip().upper()
        if not re.match(ID_PATTERN, cid) or cid not in known:
            raise ControlError(f"--control {text}: no such control (ids look like YW-C-AC-001)")
        found.append(cid)
    return found
