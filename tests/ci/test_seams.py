"""One owner per concept that crosses rooms (STYLE.md, "Habits for the seams").

Each seam below once had copies that disagreed (issue 11). This reads the
product code's syntax trees and fails, naming file and line, when a second
place starts doing what the owner does: import the owner instead.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROOMS = (
    "estate",
    "infra",
    "playbooks",
    "monitors",
    "security",
    "dr",
    "dashboards",
    "lab",
    "yunwang",
)
HTTP_SERVERS = {"start_http_server", "make_server", "HTTPServer", "ThreadingHTTPServer"}
SECRET_FIELDS = {"auth_key", "priv_key", "community"}


def _trees() -> Iterator[tuple[str, ast.Module]]:
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            yield where, ast.parse(path.read_text(encoding="utf-8"), where)


# Every node of every module, walked once for all the seams.
NODES = [(where, list(ast.walk(tree))) for where, tree in _trees()]


def _name(node: ast.AST) -> str:
    """`a.b.c` for a Name/Attribute chain, else ''."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _name(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    return ""


def _home(node: ast.AST) -> bool:
    """The home directory decided here: YUNWANG_HOME read, or the user's home."""
    if isinstance(node, ast.Constant) and node.value == "YUNWANG_HOME":
        return True
    return isinstance(node, ast.Call) and _name(node.func) in ("Path.home", "os.path.expanduser")


def _metrics_server(node: ast.AST) -> bool:
    """An HTTP server started or imported somewhere other than security.metrics.serve."""
    if isinstance(node, ast.ImportFrom):
        return node.module in ("http.server", "wsgiref.simple_server") or any(
            alias.name in HTTP_SERVERS for alias in node.names
        )
    return isinstance(node, ast.Call) and _name(node.func).rsplit(".", 1)[-1] in HTTP_SERVERS


def _secret_read(node: ast.AST) -> bool:
    """`credential.auth_key.resolve()`: an SNMP secret read outside resolve_snmp."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "resolve"
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr in SECRET_FIELDS
    )


def _environment_written(node: ast.AST) -> bool:
    """Secrets (demo keys once) handed over through the process environment."""
    if isinstance(node, ast.Assign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(t, ast.Subscript) and _name(t.value) == "os.environ" for t in targets)
    return isinstance(node, ast.Call) and _name(node.func) in (
        "os.environ.setdefault",
        "os.environ.update",
        "os.putenv",
    )


def _prefix_scan(node: ast.AST) -> bool:
    """A longest-prefix match by sorting networks on their length."""
    if not (isinstance(node, ast.Call) and _name(node.func) in ("sorted", "max", "min")):
        return False
    return any(
        kw.arg == "key"
        and any(isinstance(n, ast.Attribute) and n.attr == "prefixlen" for n in ast.walk(kw.value))
        for kw in node.keywords
    )


def _vendor_table(node: ast.AST) -> bool:
    """A module-level table of device recordings."""
    targets = node.targets if isinstance(node, ast.Assign) else []
    if isinstance(node, ast.AnnAssign):
        targets = [node.target]
    return any(isinstance(t, ast.Name) and t.id.endswith("_RECORDINGS") for t in targets)


def _actor(node: ast.AST) -> bool:
    """Who acts, decided here instead of security.audit.current_actor."""
    if isinstance(node, ast.Constant) and node.value == "YUNWANG_ACTOR":
        return True
    return isinstance(node, ast.Call) and _name(node.func) == "getpass.getuser"


def _lab_probe(node: ast.AST) -> bool:
    """`Lab(...).plan` read for its exception: yunwang.console.running_lab does that."""
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "plan"
    )


SEAMS: dict[str, tuple[Callable[[ast.AST], bool], set[str]]] = {
    "home directory (estate.home.yunwang_home)": (_home, {"estate/home.py"}),
    "metrics endpoint (security.metrics.serve)": (_metrics_server, {"security/metrics.py"}),
    "SNMP secrets (estate.secrets.resolve_snmp)": (_secret_read, {"estate/secrets.py"}),
    "secrets through os.environ": (_environment_written, set()),
    "longest-prefix match (estate.prefixes.PrefixMap)": (_prefix_scan, set()),
    "vendor recordings (monitors.snmp.recordings)": (
        _vendor_table,
        {"monitors/snmp/recordings.py"},
    ),
    "acting user (security.audit.current_actor)": (_actor, {"security/audit.py"}),
    "running lab (yunwang.console.running_lab)": (_lab_probe, {"yunwang/console.py"}),
}


def _copies(found: Callable[[ast.AST], bool], owners: set[str]) -> list[str]:
    return [
        f"{where}:{getattr(node, 'lineno', '?')}"
        for where, nodes in NODES
        if where not in owners
        for node in nodes
        if found(node)
    ]


@pytest.mark.parametrize("seam", sorted(SEAMS))
def test_each_seam_has_one_owner(seam: str) -> None:
    found, owners = SEAMS[seam]
    assert not _copies(found, owners), f"{seam}: import the owner instead of copying it"


@pytest.mark.parametrize("seam", sorted(SEAMS))
def test_each_owner_is_where_the_test_says(seam: str) -> None:
    """The test would pass vacuously if an owner moved: each must still match."""
    found, owners = SEAMS[seam]
    for owner in owners:
        nodes = next(nodes for where, nodes in NODES if where == owner)
        assert any(found(node) for node in nodes), f"{seam}: not found in {owner}"


@pytest.mark.parametrize(
    ("seam", "copy"),
    [
        ("home directory (estate.home.yunwang_home)", 'os.environ.get("YUNWANG_HOME")'),
        ("home directory (estate.home.yunwang_home)", "Path.home() / '.yunwang'"),
        ("metrics endpoint (security.metrics.serve)", "start_http_server(9100)"),
        ("metrics endpoint (security.metrics.serve)", "from http.server import HTTPServer"),
        ("SNMP secrets (estate.secrets.resolve_snmp)", "spec.auth_key.resolve()"),
        ("secrets through os.environ", 'os.environ["YW_AUTH"] = "demo"'),
        ("secrets through os.environ", 'os.environ.setdefault("YW_AUTH", "demo")'),
        (
            "longest-prefix match (estate.prefixes.PrefixMap)",
            "sorted(nets, key=lambda n: -n.prefixlen)",
        ),
        ("vendor recordings (monitors.snmp.recordings)", 'VENDOR_RECORDINGS = {"zte": "x"}'),
        ("acting user (security.audit.current_actor)", "getpass.getuser()"),
        ("running lab (yunwang.console.running_lab)", "lab.plan"),
    ],
)
def test_a_copy_is_caught(seam: str, copy: str) -> None:
    found, _owners = SEAMS[seam]
    assert any(found(node) for node in ast.walk(ast.parse(copy)))
