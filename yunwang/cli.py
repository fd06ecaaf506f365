"""The `yunwang` command.

Each verb lives in its own module under `yunwang.commands` and exposes
`register(app)`; discovering them keeps this file free of per-area edits.

Exit codes: 0 success, 1 invalid input or a failed check, 2 usage error.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import Final

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from yunwang import commands
from yunwang.console import EXIT_USAGE, err, fail

_app = typer.Typer(
    name="yunwang",
    help="Government cloud, extranet and DR centre as code, with graded early warnings.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_registered = False
_imported: set[str] = set()


def _register_commands() -> None:
    global _registered
    if _registered:
        return
    _registered = True
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        _register(module_info.name)


def _register(name: str) -> None:
    if name in _imported:
        return
    _imported.add(name)
    module = importlib.import_module(f"{commands.__name__}.{name}")
    register = getattr(module, "register", None)
    if register is not None:
        register(_app)


# Verbs defined in a module not named after them (every other verb's
# module is its name); tests/cli/test_names.py checks this against what
# each module registers.
MODULE_OF: Final = {"validate": "estate", "show": "estate"}


def _register_only(verb: str) -> bool:
    """Register just the module of `verb`, if it provides that verb.

    A verb's start-up is the user's wait: importing every room (cloud SDKs,
    pydantic, scapy, the web view) costs about a second, and `yunwang sense`
    needs none of it before its first packet, nor `yunwang validate` to
    say a file is missing.
    """
    module = MODULE_OF.get(verb, verb)
    if module.startswith("_") or not any(
        m.name == module for m in pkgutil.iter_modules(commands.__path__)
    ):
        return False
    _register(module)
    names = {c.name for c in _app.registered_commands} | {g.name for g in _app.registered_groups}
    if verb not in names:
        return False
    # One registered command would make typer run it without its verb.
    _app.callback()(_verbs)
    return True


def _verbs() -> None:
    """Government cloud, extranet and DR centre as code, with graded early warnings."""


def __getattr__(name: str) -> typer.Typer:
    # `from yunwang.cli import app` (tests, embedding) gets every verb.
    if name == "app":
        _register_commands()
        return _app
    raise AttributeError(f"module 'yunwang.cli' has no attribute {name!r}")


def main() -> None:
    from security.audit import AuditError

    # Typer's own handler draws a framed usage box over many lines; a script
    # or a log wants the one line: `yunwang VERB: what was wrong`.
    verb = sys.argv[1] if len(sys.argv) > 1 else ""
    if _registered or not _register_only(verb):
        _register_commands()
    try:
        code = _app(standalone_mode=False)
    except NoArgsIsHelpError as exc:
        err.print(exc.format_message(), markup=False, highlight=False)
        raise SystemExit(EXIT_USAGE) from None
    except UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "yunwang"
        fail(f"{where}: {_one_line(exc.format_message())}", EXIT_USAGE)
    except ClickException as exc:
        fail(f"yunwang: {_one_line(exc.format_message())}", exc.exit_code)
    except AuditError as exc:
        # Every verb records its action; a trail that cannot be written (a key
        # refused as too short, a head that is a directory) stops the verb,
        # in one line whichever verb it was.
        fail(str(exc))
    raise SystemExit(code if isinstance(code, int) else 0)


def _one_line(text: str) -> str:
    return " ".join(text.split())
