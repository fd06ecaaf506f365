"""The `yunwang` command.

Each verb lives in its own module under `yunwang.commands` and exposes
`register(app)`; discovering them keeps this file free of per-area edits.

Exit codes: 0 success, 1 invalid input or a failed check, 2 usage error.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from yunwang import commands
from yunwang.console import EXIT_USAGE, err, fail

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
    # Typer's own handler draws a framed usage box over many lines; a script
    # or a log wants the one line: `yunwang VERB: what was wrong`.
    try:
        code = app(standalone_mode=False)
    except NoArgsIsHelpError as exc:
        err.print(exc.format_message(), markup=False, highlight=False)
        raise SystemExit(EXIT_USAGE) from None
    except UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "yunwang"
        fail(f"{where}: {_one_line(exc.format_message())}", EXIT_USAGE)
    except ClickException as exc:
        fail(f"yunwang: {_one_line(exc.format_message())}", exc.exit_code)
    raise SystemExit(code if isinstance(code, int) else 0)


def _one_line(text: str) -> str:
    return " ".join(text.split())
