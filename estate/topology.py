"""The four-level extranet: expand village blocks, check the tree and its dual links.

Output is the flat, ordered node list the address plan and the model use.
Every problem is reported against the path of the YAML that caused it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import ValidationError

from estate.schema_extranet import DeviceSpec, Extranet, NodeSpec, UplinkSpec
from estate.spec_types import MAX_CODE, Level

Path = tuple[str | int, ...]
Report = Callable[[Path, str], None]

PARENT_LEVEL: dict[Level, Level | None] = {
    "city": None,
    "county": "city",
    "township": "county",
    "village": "township",
}


@dataclass
class PlannedNode:
    """A node after expansion, with where it came from in the file."""

    spec: NodeSpec
    path: Path
    county: str | None = None
    township: str | None = None
    index: int = 0  # position among its siblings: the address slot
    children: list[PlannedNode] = field(default_factory=list)


def expand(extranet: Extranet, report: Report) -> list[PlannedNode]:
    """Nodes in tree order (city, then each county's subtree), villages expanded."""
    planned: dict[str, PlannedNode] = {}
    ordered: list[PlannedNode] = []
    for i, spec in enumerate(extranet.nodes):
        path: Path = ("extranet", "nodes", i)
        if spec.id in planned:
            report((*path, "id"), f"duplicate node id {spec.id!r}")
            continue
        planned[spec.id] = PlannedNode(spec, path)
        ordered.append(planned[spec.id])
        if spec.villages is not None:
            if spec.level != "township":
                report(
                    (*path, "villages"), f"only townships declare villages, found a {spec.level}"
                )
                continue
            for village in _villages(spec, path, report):
                if village.spec.id in planned:
                    report(
                        (*path, "villages"),
                        f"generated village id {village.spec.id!r} is already used",
                    )
                    continue
                planned[village.spec.id] = village
                ordered.append(village)
    cities = [n for n in ordered if n.spec.level == "city"]
    if len(cities) != 1:
        report(("extranet", "nodes"), f"expected exactly one city node, found {len(cities)}")
        return []
    for node in ordered:
        _attach(node, planned, report)
    _check_devices_unique(ordered, report)
    return _tree_order(cities[0])


def _villages(township: NodeSpec, path: Path, report: Report) -> list[PlannedNode]:
    group = township.villages
    assert group is not None
    where: Path = (*path, "villages")
    # The last village has the longest ids; its router's name is the longest of all.
    longest = _device_name(_village_id(township.id, group.count))
    if len(longest) > MAX_CODE:
        fixed = len(longest) - len(township.id)
        report(
            where,
            f"generated device id {longest!r} would be {len(longest)} characters, over the "
            f"limit of {MAX_CODE}; expected a township id of at most {MAX_CODE - fixed} characters",
        )
        return []
    out = []
    for n in range(1, group.count + 1):
        name = group.names[n - 1] if n <= len(group.names) else f"{township.name}{n}村"
        village_id = _village_id(township.id, n)
        try:
            spec = NodeSpec(
                id=village_id,
                name=name,
                level="village",
                parent=township.id,
                devices=[DeviceSpec(name=_device_name(village_id), model=group.model)],
                uplinks=[
                    UplinkSpec(
                        role="primary",
                        interface=group.interface,
                        parent_interface=group.parent_interface.replace("{n}", str(n)),
                    )
                ],
            )
        except ValidationError as exc:
            # The schema checks the block's own fields; this catches what only
            # generation can get wrong, so it still ends as one line, not a traceback.
            error = exc.errors(include_url=False)[0]
            report(where, f"generated village {village_id!r} is invalid: {error['msg']}")
            continue
        out.append(PlannedNode(spec, where))
    return out


def _village_id(township_id: str, n: int) -> str:
    return f"{township_id}-v{n:03d}"


def _device_name(village_id: str) -> str:
    return f"{village_id}-r1"


def _attach(node: PlannedNode, planned: dict[str, PlannedNode], report: Report) -> None:
    spec = node.spec
    want = PARENT_LEVEL[spec.level]
    if want is None:
        if spec.parent is not None:
            report((*node.path, "parent"), "the city has no parent")
        if spec.uplinks:
            report((*node.path, "uplinks"), "the city has no uplinks")
    elif spec.parent is None:
        report((*node.path, "parent"), f"a {spec.level} needs a parent {want}")
    elif spec.parent not in planned:
        report((*node.path, "parent"), f"no node with id {spec.parent!r}")
    else:
        parent = planned[spec.parent]
        if parent.spec.level != want:
            report(
                (*node.path, "parent"),
                f"a {spec.level}'s parent must be a {want}, found {spec.parent!r} ({parent.spec.level})",
            )
        else:
            node.index = len(parent.children) + 1  # slot 0 is the parent's own
            parent.children.append(node)
    if not spec.devices:
        report((*node.path, "devices"), "expected at least one device")
    if want is not None:
        _check_uplinks(node, planned.get(spec.parent or ""), report)


def _check_uplinks(node: PlannedNode, parent: PlannedNode | None, report: Report) -> None:
    spec = node.spec
    roles = [u.role for u in spec.uplinks]
    path = (*node.path, "uplinks")
    if spec.level in ("county", "township"):
        if sorted(roles) != ["backup", "primary"]:
            found = ", ".join(roles) or "none"
            report(
                path,
                f"a {spec.level} needs exactly one primary and one backup link to its parent "
                f"(三级双主干、主备双链路), found {found}",
            )
    elif roles.count("primary") != 1 or roles.count("backup") > 1:
        report(
            path,
            f"a village needs one primary link and at most one backup, found {', '.join(roles) or 'none'}",
        )
    own = {d.name for d in spec.devices}
    theirs = {d.name for d in parent.spec.devices} if parent else set()
    for i, uplink in enumerate(spec.uplinks):
        if uplink.device is not None and uplink.device not in own:
            report((*path, i, "device"), f"no device {uplink.device!r} on node {spec.id!r}")
        if parent and uplink.parent_device is not None and uplink.parent_device not in theirs:
            report(
                (*path, i, "parent_device"),
                f"no device {uplink.parent_device!r} on parent node {parent.spec.id!r}",
            )


def _check_devices_unique(nodes: list[PlannedNode], report: Report) -> None:
    seen: dict[str, str] = {}
    for node in nodes:
        for j, device in enumerate(node.spec.devices):
            if device.name in seen:
                report(
                    (*node.path, "devices", j, "name"),
                    f"duplicate device name {device.name!r} (also on node {seen[device.name]!r})",
                )
            else:
                seen[device.name] = node.spec.id


def _tree_order(city: PlannedNode) -> list[PlannedNode]:
    out = [city]
    for county in city.children:
        county.county = county.spec.id
        out.append(county)
        for township in county.children:
            township.county, township.township = county.spec.id, township.spec.id
            out.append(township)
            for village in township.children:
                village.county, village.township = county.spec.id, township.spec.id
                out.append(village)
    return out
