"""What every verb shares: loading the estate (or the running lab), or failing in one line per problem."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from rich.console import Console

if TYPE_CHECKING:
    from estate import Estate
    from lab.lab import Lab

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

out = Console(soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    err.print(message, markup=False)
    raise SystemExit(code)


def load_estate(path: Path) -> Estate:
    """The estate at `path`, or every problem on stderr and exit 1."""
    # Imported here: `yunwang sense` with a cached policy never loads an estate.
    from estate import EstateError, load

    try:
        return load(path)
    except EstateError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        raise SystemExit(EXIT_INVALID) from None


def running_lab(directory: Path | None) -> Lab:
    """The lab up in `directory` (default $YUNWANG_HOME/lab), or one line and exit 1."""
    from lab.errors import LabError
    from lab.lab import Lab

    lab = Lab(directory)
    try:
        lab.plan  # noqa: B018  (a directory without a lab fails here, in one line)
    except LabError as exc:
        fail(f"--lab: {exc}")
    return lab


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
