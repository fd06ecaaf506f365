"""Problems found in an estate file, each reported as one precise line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input: where it is and what was expected."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        # One problem, one line: parser messages sometimes carry their own newlines.
        message = " ".join(self.message.split())
        return f"{where}: {self.path or '(top)'}: {message}"


class EstateError(Exception):
    """The estate cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


def dotted(path: Iterable[str | int]) -> str:
    """`("tenants", 3, "systems", 0, "zone")` -> `tenants[3].systems[0].zone`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
