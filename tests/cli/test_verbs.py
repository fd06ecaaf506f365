"""Each verb starts with its own module only: `yunwang VERB` finds it without importing every room."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import typer

from yunwang import cli, commands

ROOT = Path(__file__).resolve().parents[2]


def test_every_verb_names_the_module_that_registers_it() -> None:
    for info in pkgutil.iter_modules(commands.__path__):
        register = getattr(
            importlib.import_module(f"{commands.__name__}.{info.name}"), "register", None
        )
        if register is None:
            continue
        app = typer.Typer()
        register(app)
        verbs = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
        assert verbs, info.name
        for verb in verbs:
            assert verb is not None and cli.MODULE_OF.get(verb, verb) == info.name, (
                verb,
                info.name,
            )


def test_validate_starts_without_the_other_verbs_rooms(tmp_path: Path) -> None:
    """`validate` lives in commands/estate.py: it once imported every verb's
    module (the lab, scapy, the web view), 1.5 s to say a file is missing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUNWANG_")}
    env["YUNWANG_HOME"] = str(tmp_path)
    for args, code in ((["validate", str(ROOT / "examples" / "small.yaml")], 0),
                       (["validate", str(tmp_path / "missing.yaml")], 1),
                       (["show", str(ROOT / "examples" / "small.yaml")], 0)):  # fmt: skip
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "yunwang", *args],
                              capture_output=True, text=True, env=env, timeout=120, check=False)  # fmt: skip
        assert done.returncode == code, done.stderr[-2000:]
        imported = {
            line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
            if line.startswith("import time:")
        }  # fmt: skip
        # (importlib's imports, the verbs' modules themselves, are not listed:
        # what those modules import with `import` is.)
        assert "estate.schema" in imported
        for other in ("lab", "scapy", "dashboards", "monitors.packets", "yunwang.commands.watch"):
            assert other not in imported, (args, other)
