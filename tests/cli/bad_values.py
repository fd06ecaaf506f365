"""Every verb of `yunwang` against values a newcomer or an attacker types.

The table is keyed by the verb's path in the Typer app; a verb the table does
not name fails the test until it gets rows. Each row runs `yunwang` as its own
process, the way a shell runs it, and must end with the expected exit code,
exactly one line on stderr and no traceback.

Placeholders in the arguments are filled in per run:
    {small}   the example estate            {missing}  a path that does not exist
    {garbage} a file of binary junk         {store}    an event store with nothing in it
    {trail}   an audit trail with a torn record
    {typo}    sqlite:// in a directory that does not exist (and must not appear), one per row
    {busy}    a TCP port something already listens on
    {addresses} every device of {small} mapped to 127.0.0.1:1 (nothing leaves loopback)
    {nolab}   an empty lab directory
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import typer.main

from estate import load
from security.store import open_store
from yunwang.cli import app

ROOT = Path(__file__).resolve().parents[2]
USAGE, INVALID = 2, 1
HUNG = -1  # the exit code an Outcome gets when the verb did not end
TIMEOUT_S = 120


@dataclass(frozen=True)
class Row:
    verb: tuple[str, ...]
    args: tuple[str, ...]
    code: int

    @property
    def id(self) -> str:
        return " ".join((*self.verb, *self.args))


def _rows(verb: str, *cases: tuple[int, tuple[str, ...]]) -> list[Row]:
    path = tuple(verb.split())
    return [Row(path, args, code) for code, args in cases]


# Watch never runs a cycle here; the duration only bounds a regression.
W = ("--duration", "5", "--port", "0")
BAD: list[Row] = [
    *_rows("validate",
           (INVALID, ("{missing}",)), (INVALID, ("/etc",)), (INVALID, ("{garbage}",)),
           (USAGE, ())),
    *_rows("show", (INVALID, ("{missing}",)), (INVALID, ("/etc",)), (USAGE, ("{small}", "--bogus"))),
    *_rows("plan",
           (INVALID, ("{missing}",)), (INVALID, ("{small}", "--stack", "/etc")),
           (INVALID, ("{small}", "--stack", "{garbage}")),
           (USAGE, ("{small}", "--workers", "0"))),
    *_rows("collect",
           (INVALID, ("{missing}", "--once")),
           (INVALID, ("{small}", "--once", "--county", "nowhere")),
           (INVALID, ("{small}", "--once", "--addresses", "/etc")),
           (INVALID, ("{small}", "--once", "--addresses", "{garbage}")),
           (INVALID, ("{small}", "--once", "--dr-standby", "gaj/jwzh")),
           (INVALID, ("{small}", "--addresses", "{addresses}", "--port", "{busy}")),
           (USAGE, ("{small}", "--concurrency", "many")),
           (USAGE, ("{small}", "--once", "--heartbeat", "0")),
           (INVALID, ("{small}", "--once", "--addresses", "{addresses}",
                      "--store", "http://127.0.0.1:1/?api_key=inline")),
           (INVALID, ("{small}", "--once", "--addresses", "{addresses}",
                      "--store", "http://127.0.0.1:1/?user=tap&password_env=YW_NOT_SET")),
           (USAGE, ("{small}", "--port", "70000"))),
    *_rows("sense",
           (USAGE, ("{small}",)),
           (INVALID, ("{small}", "--pcap", "{missing}")),
           (INVALID, ("{small}", "--pcap", "/etc")),
           (INVALID, ("{small}", "--pcap", "{garbage}")),
           (INVALID, ("{small}", "--iface", "nosuch0")),
           (INVALID, ("{small}", "--pcap", "{garbage}", "--metrics-port", "{busy}")),
           (INVALID, ("{small}", "--pcap", "{garbage}", "--policy", "/etc")),
           (USAGE, ("{small}", "--pcap", "{garbage}", "--metrics-port", "70000")),
           (USAGE, ("{small}", "--pcap", "{garbage}", "--workers", "0")),
           (USAGE, ("{small}", "--pcap", "{garbage}", "--workers", "many")),
           (USAGE, ("{small}", "--pcap", "{garbage}", "--workers", "2", "--count", "5")),
           (USAGE, ("{small}", "--pcap", "{garbage}", "--count", "-1")),
           (INVALID, ("{small}", "--pcap", "{garbage}", "--policy", "{garbage}")),
           (INVALID, ("{small}", "--pcap", "{garbage}", "--workers", "2")),
           (INVALID, ("{small}", "--iface", "nosuch0", "--workers", "2")),
           (USAGE, ("{small}", "--iface", "nosuch0", "--workers", "2",
                    "--store", "http://127.0.0.1:1/")),
           (USAGE, ("{small}", "--pcap", "{garbage}", "--heartbeat", "-1")),
           (INVALID, ("{small}", "--pcap", "{small}", "--store", "http://127.0.0.1:1/?api_key=x")),
           (INVALID, ("{small}", "--pcap", "{small}",
                      "--store", "http://127.0.0.1:1/?ca_file={missing}"))),
    *_rows("watch",
           (INVALID, ("--store", "ftp://x", *W)),
           (INVALID, ("--store", "http://[::1", *W)),
           (INVALID, ("--store", "http://127.0.0.1:99999", *W)),
           (INVALID, ("--store", "http://127.0.0.1:1/?spool=/proc/nope", *W)),
           (INVALID, ("--pcap", "{missing}", *W)),
           (INVALID, ("--pcap", "/etc", *W)),
           (INVALID, ("--store", "sqlite:////proc/nope/x.db", *W)),
           (INVALID, ("--duration", "5", "--port", "{busy}")),
           (USAGE, ("--duration", "5", "--port", "70000")),
           (INVALID, ("--listen", "999.1.1.1", *W)),
           (INVALID, ("{missing}", *W)),
           (INVALID, ("--scenario", "nonsense", *W)),
           (USAGE, ("--interval", "-1", *W)),
           (USAGE, ("--cycles", "-1", *W)),
           (INVALID, ("{small}", "--live", "--sensor", "nosuch", *W)),
           (INVALID, ("--sensor", "hl-tap", *W)),
           (INVALID, ("--store", "http://127.0.0.1:1/?api_key=inline", *W))),
    *_rows("posture",
           (INVALID, ("--store", "{typo}")),
           (INVALID, ("--store", "http://[::1")),
           (INVALID, ("--store", "http://127.0.0.1:99999")),
           (INVALID, ("--store", "{store}", "--explain", "nowhere")),
           (INVALID, ("--store", "{store}", "--scope", "rack")),
           (INVALID, ("--store", "{store}", "--estate", "{small}", "--explain", "jwzh-app-9")),
           (INVALID, ("--store", "{store}", "--estate", "{missing}")),
           (USAGE, ("--store", "{store}", "--history", "5x"))),
    *_rows("warnings",
           (INVALID, ("--store", "{typo}")),
           (INVALID, ("--store", "ftp://x")),
           (INVALID, ("--store", "http://127.0.0.1:99999")),
           (INVALID, ("--store", "http://127.0.0.1:1/?spool=/proc/nope", "--ack", "W1")),
           (INVALID, ("--store", "{store}", "--ack", "Wnothing")),
           (USAGE, ("--store", "{store}", "--level", "purple")),
           (USAGE, ("--store", "{store}", "--resolve", "")),
           (USAGE, ("--store", "{store}", "--ack", "a", "--resolve", "b"))),
    *_rows("events search",
           (INVALID, ("x", "--store", "{typo}")),
           (INVALID, ("x", "--store", "http://[::1")),
           (INVALID, ("x", "--store", "http://127.0.0.1:1/?spool=/proc/nope")),
           (USAGE, ("x", "--store", "{store}", "--since", "5x")),
           (USAGE, ())),
    *_rows("audit verify",
           (INVALID, ("--store", "{typo}")),
           (INVALID, ("--file", "/")),
           (INVALID, ("--file", "/etc")), (INVALID, ("--file", "{missing}")),
           (INVALID, ("--file", "{trail}"))),
    *_rows("audit show",
           (INVALID, ("--file", "/etc")), (INVALID, ("--file", "{missing}")),
           (INVALID, ("--file", "{trail}")), (USAGE, ("--last", "0"))),
    *_rows("serve",
           (INVALID, ("{missing}",)),
           (INVALID, ("{small}", "--store", "ftp://x")),
           (INVALID, ("{small}", "--store", "sqlite:////proc/nope/x.db")),
           (INVALID, ("{small}", "--cert", "{missing}", "--key", "{missing}")),
           (USAGE, ("{small}", "--port", "70000"))),
    *_rows("dashboards",
           (INVALID, ("{missing}", "{nolab}")),
           (INVALID, ("{small}", "/proc/nope")),
           (USAGE, ("{small}", "{nolab}", "--webhook", "notaurl")),
           (USAGE, ("{small}", "{nolab}", "--alertmanager", "host:99999")),
           (USAGE, ("{small}", "{nolab}", "--target", "hl=:::")),
           (USAGE, ("{small}",))),
    *_rows("verify cloud",
           (INVALID, ("{missing}",)),
           (INVALID, ("{small}", "--cloud", "/etc")),
           (INVALID, ("{small}", "--cloud", "{missing}")),
           (USAGE, ())),
    *_rows("harden",
           (INVALID, ("{missing}", "--check")),
           (USAGE, ("{small}", "--check", "--control", "YW-C-NOPE")),
           (INVALID, ("{small}", "--check", "--policy", "/etc")),
           (INVALID, ("{small}", "--check", "--lab-dir", "{nolab}")),
           (INVALID, ("{small}", "--check", "--limit", "nowhere")),
           (USAGE, ())),
    *_rows("dr drill",
           (INVALID, ("{missing}", "gaj/portal", "--kind", "failover", "--standby", "h2", "--lab-dir", "{nolab}")),
           (USAGE, ("{small}", "gaj/nope", "--kind", "failover", "--standby", "h2", "--lab-dir", "{nolab}")),
           (USAGE, ("{small}", "gaj/portal", "--kind", "sideways", "--standby", "h2")),
           (USAGE, ("{small}", "gaj/portal", "--kind", "failover")),
           (USAGE, ("{small}", "gaj/portal", "--kind", "failover", "--lab-dir", "{nolab}"))),
    *_rows("dr backup",
           (INVALID, ("{missing}", "gaj/jwzh", "--standby", "h2", "--lab-dir", "{nolab}")),
           (USAGE, ("{small}", "gaj/nope", "--standby", "h2", "--lab-dir", "{nolab}")),
           (USAGE, ("{small}", "gaj/jwzh", "--standby", "h2")),
           (USAGE, ("{small}", "gaj/portal", "--lab-dir", "{nolab}")),
           (USAGE, ())),
    *_rows("dr check",
           (USAGE, ("{small}", "gaj/nope", "--standby", "h2", "--lab-dir", "{nolab}")),
           (USAGE, ("{small}", "gaj/portal", "--lab-dir", "{nolab}")),
           (USAGE, ())),
    *_rows("dr status",
           (INVALID, ("{missing}",)),
           (INVALID, ("{small}", "--store", "ftp://x")),
           (USAGE, ())),
    *_rows("rollout dual-links",
           (INVALID, ("{missing}", "--lab-dir", "{nolab}")),
           (INVALID, ("{garbage}", "--lab-dir", "{nolab}")),
           (INVALID, ("{small}", "--lab-dir", "{nolab}")),
           (USAGE, ("{small}", "--level", "village")),
           (USAGE, ("{small}", "--limit", "nowhere")),
           (USAGE, ("{small}", "--batch", "0")),
           (USAGE, ("{small}", "--settle", "0")),
           (USAGE, ("{small}", "--batch", "many")),
           (USAGE, ())),
    *_rows("migrate ipv6",
           (INVALID, ("{missing}", "plan", "--lab-dir", "{nolab}")),
           (INVALID, ("{garbage}", "plan", "--lab-dir", "{nolab}")),
           (INVALID, ("{small}", "plan", "--lab-dir", "{nolab}")),
           # Never a real `run` here: without --lab it reaches the estate's routers.
           (USAGE, ("{small}", "run", "--adoption-gate")),
           (USAGE, ("{small}", "plan", "--canary", "nowhere")),
           (USAGE, ("{small}", "sideways", "--lab-dir", "{nolab}")),
           (USAGE, ("{small}", "run", "--settle", "0", "--lab-dir", "{nolab}")),
           (USAGE, ("{small}", "plan", "--batch", "many")),
           (USAGE, ())),
    *_rows("lab up", (INVALID, ("{missing}", "--dir", "{nolab}")),
           (INVALID, ("{garbage}", "--dir", "{nolab}"))),
    *_rows("lab down", (USAGE, ("--dir", "{garbage}"))),
    *_rows("lab status", (USAGE, ("--dir", "{garbage}")), (USAGE, ("--dir", "{nolab}", "extra"))),
    *_rows("lab cut", (INVALID, ("qf-l1", "--dir", "{nolab}"))),
    *_rows("lab blackhole", (INVALID, ("qf-l1", "--dir", "{nolab}"))),
    *_rows("lab throttle", (INVALID, ("qf-l1", "--rate", "fast", "--dir", "{nolab}"))),
    *_rows("lab partition", (INVALID, ("qf", "--dir", "{nolab}"))),
    *_rows("lab restore", (INVALID, ("qf-l1", "--dir", "{nolab}"))),
    *_rows("lab exec", (INVALID, ("qf", "true", "--dir", "{nolab}"))),
    *_rows("lab ssh", (INVALID, ("h1", "--dir", "{nolab}"))),
    *_rows("lab inventory", (INVALID, ("--dir", "{nolab}")), (USAGE, ("--family", "5"))),
]  # fmt: skip


def verbs() -> list[tuple[str, ...]]:
    """Every verb of the app, as the path a user types (`audit verify`)."""

    def walk(command: object, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in sorted(subcommands.items()):
                yield from walk(sub, (*path, name))
        else:
            yield path

    return list(walk(typer.main.get_command(app), ()))


@dataclass(frozen=True)
class Outcome:
    row: Row
    argv: list[str]
    code: int
    stderr: str
    typo_created: bool


@contextmanager
def fixtures(work: Path) -> Iterator[dict[str, str]]:
    """The placeholder values, and a port held busy for the duration."""
    work.mkdir(parents=True, exist_ok=True)
    garbage = work / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 4)
    trail = work / "audit.jsonl"
    trail.write_text('{"seq": 1, "action": "x"\n', encoding="utf-8")
    store_path = work / "events.db"
    open_store(f"sqlite:///{store_path}").close()
    small = ROOT / "examples" / "small.yaml"
    addresses = work / "addresses.json"
    addresses.write_text(json.dumps({d.name: "127.0.0.1:1" for d in load(small).devices()}))
    (work / "nolab").mkdir(exist_ok=True)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield {
            "small": str(small),
            "missing": str(work / "missing.yaml"),
            "garbage": str(garbage),
            "store": f"sqlite:///{store_path}",
            "trail": str(trail),
            "busy": str(busy.getsockname()[1]),
            "addresses": str(addresses),
            "nolab": str(work / "nolab"),
        }


def run_all(rows: list[Row], work: Path, workers: int = 4) -> list[Outcome]:
    """Run every row as `python -m yunwang ...`, a few at once."""
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUNWANG_")}
    # Secrets are set so `collect` gets as far as its port; no address leaves loopback.
    env |= {"YUNWANG_HOME": str(home), "YUNWANG_SNMP_AUTH": "authpass123",
            "YUNWANG_SNMP_PRIV": "privpass123", "COLUMNS": "200"}  # fmt: skip
    with fixtures(work) as values:

        def one(number: int, row: Row) -> Outcome:
            typo = work / f"typo-{number}"  # each row its own, to tell who created it
            mine = values | {"typo": f"sqlite:///{typo / 'x.db'}"}
            argv = [a.format(**mine) for a in (*row.verb, *row.args)]
            try:
                done = subprocess.run(
                    [sys.executable, "-m", "yunwang", *argv],
                    capture_output=True, text=True, env=env, cwd=work,
                    stdin=subprocess.DEVNULL, timeout=TIMEOUT_S, check=False,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                return Outcome(row, argv, HUNG, f"no answer in {TIMEOUT_S} s\n", typo.exists())
            return Outcome(row, argv, done.returncode, done.stderr, typo.exists())

        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, range(len(rows)), rows))


def problems(outcome: Outcome) -> list[str]:
    """What is wrong with how the verb took the bad value (empty: a clean one-line error)."""
    found = []
    if "Traceback" in outcome.stderr:
        found.append("a traceback")
    if outcome.code == HUNG:
        found.append(f"still running after {TIMEOUT_S} s")
    elif outcome.code != outcome.row.code:
        found.append(f"exit {outcome.code}, expected {outcome.row.code}")
    lines = outcome.stderr.splitlines()
    if len(lines) != 1 or not lines[0].strip():
        found.append(f"{len(lines)} lines on stderr, expected one")
    if outcome.typo_created:
        found.append("created the mistyped store's directory")
    return found
