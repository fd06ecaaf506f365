"""Every warning rule has a producer, and every producer's event is known.

A rule whose `match` names a dataset/action nothing emits never fires; an
event a producer emits that no rule matches and docs/posture.md does not list
is a contract nobody wrote down. Producers are found where they are declared:
the packet detections' signatures, and every `Event(dataset=..., action=...)`
with constant arguments in the producing rooms' source.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from monitors.packets.detections import DETECTIONS
from monitors.packets.signature import DATASET as PACKETS
from security.rulebook import Rule, load_rules

ROOT = Path(__file__).resolve().parents[2]
PRODUCING_ROOMS = ("monitors", "playbooks", "dr", "security", "infra")
CONTRACT = ROOT / "docs" / "posture.md"

# Rules (or single actions of a rule) whose producer is being built: each
# says which one. An entry whose producer arrives makes the test fail until
# it is removed here.
WAITING: dict[tuple[str, str | None], str] = {
    ("YW-AUTH-001", None): "authentication-failure counting from host and device logs",
    ("YW-LINK-002", "link-state-changed"): "single-homed link states in monitors/links.py",
}

Pair = tuple[str, str]


def _constants(tree: ast.Module) -> dict[str, list[str]]:
    """Module-level string constants, and dicts of them (an action per finding kind)."""
    found: dict[str, list[str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        value = node.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            strings = [value.value]
        elif isinstance(value, ast.Dict) and all(
            isinstance(v, ast.Constant) and isinstance(v.value, str) for v in value.values
        ):
            strings = [v.value for v in value.values if isinstance(v, ast.Constant)]
        else:
            continue
        for target in node.targets:
            if isinstance(target, ast.Name):
                found[target.id] = strings
    return found


def _literal(value: ast.expr, constants: dict[str, list[str]]) -> list[str]:
    """What a keyword argument can be: a constant, a named one, or any value of a named dict."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return [value.value]
    if isinstance(value, ast.Name):
        return constants.get(value.id, [])[:1]
    if isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name):
        return constants.get(value.value.id, [])
    return []


def _wrappers(tree: ast.Module, constants: dict[str, list[str]]) -> dict[str, tuple[int, str]]:
    """Functions that build an Event whose action is one of their parameters
    (`dr_event(system, dr, now, action, ...)`): name -> (that parameter's
    position, the dataset)."""
    found: dict[str, tuple[int, str]] = {}
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef):
            continue
        params = [a.arg for a in func.args.args]
        for node in ast.walk(func):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Event"):
                continue
            kw = {k.arg: k.value for k in node.keywords if k.arg}
            action, dataset = (
                kw.get("action"),
                _literal(kw["dataset"], constants)[:1] if "dataset" in kw else [],
            )
            if isinstance(action, ast.Name) and action.id in params and dataset:
                found[func.name] = (params.index(action.id), dataset[0])
    return found


def source_events() -> dict[Pair, str]:
    """(dataset, action) -> file, for every Event built from constants, directly
    or through a wrapper that takes the action as a parameter."""
    found: dict[Pair, str] = {}
    trees = {
        path: ast.parse(path.read_text(encoding="utf-8"))
        for room in PRODUCING_ROOMS
        for path in sorted((ROOT / room).rglob("*.py"))
    }
    # A dataset constant is often imported from its room's module (FLEET_DATASET).
    shared: dict[str, list[str]] = {}
    for tree in trees.values():
        shared.update(_constants(tree))
    for path, tree in trees.items():
        constants = {**shared, **_constants(tree)}
        wrappers = _wrappers(tree, constants)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None)
            if name == "Event":
                args = {k.arg: _literal(k.value, constants) for k in node.keywords if k.arg}
                pairs = [
                    (d, a) for d in args.get("dataset", [])[:1] for a in args.get("action", [])
                ]
            elif name in wrappers and len(node.args) > wrappers[name][0]:
                position, dataset = wrappers[name]
                pairs = [(dataset, a) for a in _literal(node.args[position], constants)]
            else:
                continue
            for pair in pairs:
                found[pair] = str(path.relative_to(ROOT))
    return found


def produced() -> dict[Pair, str]:
    events = source_events()
    for detection in DETECTIONS:
        for signature in detection.signatures:
            events[(PACKETS, signature.action)] = f"detection {detection.key}"
    return events


def rule_pairs(rule: Rule) -> list[tuple[str, str | None]]:
    datasets = rule.match.dataset if isinstance(rule.match.dataset, list) else [rule.match.dataset]
    action = rule.match.action
    actions: list[str | None] = (
        [None] if action is None else (action if isinstance(action, list) else [action])
    )
    return [(dataset, a) for dataset in datasets for a in actions]


def documented() -> set[Pair]:
    """The producers' contract table in docs/posture.md: | `dataset` | `action`, ... |."""
    pairs = set()
    for line in CONTRACT.read_text(encoding="utf-8").splitlines():
        cells = line.split("|")
        if len(cells) < 4 or not cells[1].strip().startswith("`yunwang."):
            continue
        dataset = cells[1].strip().strip("`")
        for action in re.findall(r"`([a-z0-9-]+)`", cells[2]):
            pairs.add((dataset, action))
    return pairs


def test_the_scan_finds_the_known_producers() -> None:
    events = produced()
    assert ("yunwang.links", "pair-state-changed") in events
    assert ("yunwang.snmp", "device-state-changed") in events
    assert (PACKETS, "port-scan") in events


def test_every_rule_is_produced_or_waiting() -> None:
    events = produced()
    datasets = {dataset for dataset, _ in events}
    missing = []
    for rule in load_rules():
        waiting_rule = (rule.id, None) in WAITING
        for dataset, action in rule_pairs(rule):
            emitted = dataset in datasets if action is None else (dataset, action) in events
            waiting = waiting_rule or (rule.id, action) in WAITING
            if emitted == waiting:
                state = "still marked waiting" if emitted else "has no producer"
                missing.append(f"{rule.id}: {dataset}/{action or 'any action'} {state}")
    assert not missing, "\n".join(missing)


def test_every_waiting_entry_names_a_rule() -> None:
    ids = {rule.id for rule in load_rules()}
    assert {rule_id for rule_id, _ in WAITING} <= ids


def test_every_produced_event_is_matched_or_documented() -> None:
    matched = {pair for rule in load_rules() for pair in rule_pairs(rule)}
    known = documented()
    unknown = [
        f"{where}: {dataset}/{action}"
        for (dataset, action), where in sorted(produced().items())
        if (dataset, action) not in matched
        and (dataset, None) not in matched
        and (dataset, action) not in known
    ]
    assert not unknown, "no rule matches and docs/posture.md does not list:\n" + "\n".join(unknown)
