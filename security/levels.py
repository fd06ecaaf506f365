"""Early-warning levels: red (I, 特别重大) > orange (II, 重大) > yellow (III, 较大) > blue (IV, 一般).

The same four words are used in rules, the store, the CLI, metrics and
Alertmanager labels, so nothing ever translates between vocabularies.
"""

from __future__ import annotations

from typing import Literal, get_args

WarningLevel = Literal["red", "orange", "yellow", "blue"]

# Most severe first; index is the rank (0 = red).
LEVELS: tuple[WarningLevel, ...] = get_args(WarningLevel)
GRADE: dict[WarningLevel, str] = {"red": "I", "orange": "II", "yellow": "III", "blue": "IV"}
CHINESE: dict[WarningLevel, str] = {
    "red": "特别重大",
    "orange": "重大",
    "yellow": "较大",
    "blue": "一般",
}
# Alertmanager routes on `severity` by convention; warning_level keeps our grade.
ALERT_SEVERITY: dict[WarningLevel, str] = {
    "red": "critical",
    "orange": "critical",
    "yellow": "warning",
    "blue": "info",
}


def rank(level: WarningLevel) -> int:
    """0 for red (worst) to 3 for blue."""
    return LEVELS.index(level)


def is_level(value: object) -> bool:
    return value in LEVELS


def escalate(level: WarningLevel, steps: int = 1, ceiling: WarningLevel = "red") -> WarningLevel:
    """`steps` levels more severe, never past `ceiling` (nor past red)."""
    target = max(rank(level) - steps, rank(ceiling))
    return LEVELS[min(target, rank(level))]


def worst(levels: list[WarningLevel]) -> WarningLevel | None:
    if not levels:
        return None
    return min(levels, key=rank)
