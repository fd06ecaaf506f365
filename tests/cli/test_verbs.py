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


def _imported(args: list[str], home: Path, code: int) -> set[str]:
    """The modules `yunwang ARGS` imports (`-X importtime`), once it ended with `code`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUNWANG_")}
    env["YUNWANG_HOME"] = str(home)
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "yunwang", *args],
                          capture_output=True, text=True, env=env, cwd=home, timeout=120,
                          stdin=subprocess.DEVNULL, check=False)  # fmt: skip
    assert done.returncode == code, done.stderr[-2000:]
    return {
        line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }  # fmt: skip


def test_validate_starts_without_the_other_verbs_rooms(tmp_path: Path) -> None:
    """`validate` lives in commands/estate.py: it once imported every verb's
    module (the lab, scapy, the web view), 1.5 s to say a file is missing."""
    for args, code in ((["validate", str(ROOT / "examples" / "small.yaml")], 0),
                       (["validate", str(tmp_path / "missing.yaml")], 1),
                       (["show", str(ROOT / "examples" / "small.yaml")], 0)):  # fmt: skip
        imported = _imported(args, tmp_path, code)
        # (importlib's imports, the verbs' modules themselves, are not listed:
        # what those modules import with `import` is.)
        assert "estate.schema" in imported
        for other in ("lab", "scapy", "dashboards", "monitors.packets", "yunwang.commands.watch"):
            assert other not in imported, (args, other)


def test_watch_refuses_a_bad_value_before_the_simulator_and_the_sniffer(tmp_path: Path) -> None:
    """A mistyped scenario, capture or store once cost a second and a half of
    scapy, pysnmp and the Elasticsearch client before the one-line refusal."""
    quick = ["--duration", "5", "--port", "0"]
    for bad in (["--scenario", "nonsense"], ["--pcap", str(tmp_path / "missing.pcap")],
                ["--store", "ftp://x"], ["--store", "http://127.0.0.1:1/?api_key=inline"]):  # fmt: skip
        imported = _imported(["watch", *bad, *quick], tmp_path, 1)
        assert "yunwang.watch_job" in imported
        for heavy in ("scapy", "pysnmp", "elasticsearch"):
            assert heavy not in imported, (bad, heavy)


def test_sense_refuses_a_missing_capture_before_the_estate_and_its_policy(
    tmp_path: Path,
) -> None:
    """With no policy cached, `sense` loads the whole estate to compile one
    (a second or more for the city): a mistyped --pcap was said only after."""
    missing = tmp_path / "missing.pcap"
    args = ["sense", "--pcap", str(missing), str(ROOT / "examples" / "puyang.yaml")]
    imported = _imported(args, tmp_path, 1)
    assert "monitors.packets.capture" in imported
    assert "estate.schema" not in imported
    assert not (tmp_path / "cache" / "sensor-policy").exists()  # nothing compiled either
