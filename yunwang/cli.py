"""The `yunwang` command.

Each verb lives in its own module under `yunwang.commands` and exposes
`register(app)`; discovering them keeps this file free of per-area edits.

Exit codes: 0 success, 1 invalid input or a failed check, 2 usage error.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

from yunwang import commands

app = typer.Typer(
    name="yunwang",
    help="Government cloud, extranet and DR centre as code, with graded early warnings.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_commands()


def main() -> None:
    app()
