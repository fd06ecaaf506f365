"""Running the program under Pulumi's mock runtime and keeping every registered resource.

No cloud and no Pulumi CLI: the program registers its resources with a
`MockMonitor` that echoes inputs back as outputs, and the monitor records
each registration (type, name, parent, provider, inputs). The result is a
`Plan`, plain data that invariants check and `yunwang plan` prints and
diffs.

Each plan runs in a forked child process: Pulumi's runtime keeps
process-wide state (the root stack, settings), so a fresh process per run is
the clean way to plan two estates (`yunwang plan OLD NEW`) side by side.
"""

from __future__ import annotations

import asyncio
import gc
import json
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from estate import Estate
from estate.source import YAML_LOAD_ERRORS

SECRET = "[secret]"
PLAN_PROJECT = "yunwang"
PLAN_STACK = "plan"
PLACEHOLDER_AUTH_URL = "https://keystone.plan.invalid:5000/v3"


@dataclass(frozen=True)
class Planned:
    """One resource the program would create."""

    urn: str
    type: str
    name: str
    id: str
    parent: str  # parent URN, "" for top-level
    provider: str  # provider reference "URN::id", "" for the default
    custom: bool
    inputs: dict[str, Any]
    secrets: tuple[str, ...] = ()  # input paths that arrived as Pulumi secrets

    @property
    def component(self) -> str:
        """The innermost yunwang component type this resource lives in (from its URN)."""
        chain = self.urn.split("::")[2].split("$")
        for typ in reversed(chain[:-1] if self.custom else chain):
            if typ.startswith("yunwang:"):
                return typ
        return "(stack)"


@dataclass
class Plan:
    estate: str
    resources: list[Planned] = field(default_factory=list)
    seconds: float = 0.0

    def of_type(self, *types: str) -> list[Planned]:
        return [r for r in self.resources if r.type in types]

    def by_id(self) -> dict[str, Planned]:
        return {r.id: r for r in self.resources if r.custom}

    def by_urn(self) -> dict[str, Planned]:
        return {r.urn: r for r in self.resources}

    def counts(self) -> Counter[tuple[str, str]]:
        return Counter((r.component, r.type) for r in self.resources if r.custom)


def _strip(value: Any, path: str, secrets: list[str]) -> Any:
    """Inputs as plain JSON data: secrets replaced by a marker, internal keys dropped."""
    from pulumi.runtime.rpc import is_rpc_secret

    if is_rpc_secret(value):
        secrets.append(path)
        return SECRET
    if isinstance(value, dict):
        return {
            k: _strip(v, f"{path}.{k}" if path else k, secrets)
            for k, v in value.items()
            if not k.startswith("__")
        }
    if isinstance(value, list):
        return [_strip(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf carries every number as a double
    return value


def plan_config(estate_file: str, stack_config: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The config a plan runs with: the stack file's plain `yunwang:` values, placeholders
    for what planning does not need (endpoint, password), and the estate given."""
    config: dict[str, str] = {}
    for key, value in (stack_config or {}).items():
        if key.startswith("yunwang:") and not isinstance(value, dict):  # skip `secure:` values
            config[key] = value if isinstance(value, str) else json.dumps(value)
    config["yunwang:estate"] = estate_file
    config.setdefault("yunwang:authUrl", PLACEHOLDER_AUTH_URL)
    # Planning needs no credentials, but the program still reads the
    # password the one way it may (require_secret), so it gets a placeholder.
    config["yunwang:password"] = "plan-placeholder"
    return config


def _run(estate: Estate, config: dict[str, str], shard: tuple[int, int] = (0, 1)) -> Plan:
    """Plan one estate (or one shard of it) in this process, which must be a fresh one."""
    import pulumi
    from pulumi.runtime import mocks, rpc
    from pulumi.runtime.proto import resource_pb2
    from pulumi.runtime.sync_await import _ensure_event_loop

    from infra.program import Shard, build
    from infra.settings import CloudSettings

    started = time.perf_counter()
    recorded: list[Planned] = []

    class Echo(pulumi.runtime.Mocks):
        """Resources echo their inputs; invokes (role and user lookups) answer by name."""

        def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
            name = str(args.args.get("name", "x"))
            return {"id": f"{args.token.rsplit(':', 1)[-1]}-{name}", "name": name}, []

    class Recorder(mocks.MockMonitor):
        """MockMonitor.RegisterResource, minus a round trip, plus a record.

        The base class asks `new_resource` for the outputs and serializes
        them again; echoing means the outputs *are* the serialized inputs,
        so the request's own struct goes back as is.
        """

        def RegisterResource(self, request: Any) -> Any:
            urn = self.make_urn(request.parent, request.type, request.name)
            if request.type == "pulumi:pulumi:Stack":
                return resource_pb2.RegisterResourceResponse(urn=urn)
            _ensure_event_loop()  # type: ignore[no-untyped-call]
            state = rpc.deserialize_properties(request.object)
            # Type and name: an address group and a security group share a name.
            kind = request.type.rsplit(":", 1)[-1]
            resource_id = f"{kind}/{request.name}" if request.custom else ""
            self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, resource_id, state)
            secrets: list[str] = []
            recorded.append(
                Planned(
                    urn=urn,
                    type=request.type,
                    name=request.name,
                    id=resource_id,
                    parent=request.parent,
                    provider=request.provider,
                    custom=bool(request.custom),
                    inputs=_strip(state, "", secrets),
                    secrets=tuple(secrets),
                )
            )
            return resource_pb2.RegisterResourceResponse(
                urn=urn, id=resource_id, object=request.object
            )

    _quieten_source_positions()
    # A forked child inherits the parent's event loop, whose executor threads
    # did not survive the fork (work sent to them would wait forever), and
    # maybe a configured runtime (tests set mocks at import): start clean.
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.settings.reset_options(project=PLAN_PROJECT, stack=PLAN_STACK, preview=False)
    echo = Echo()
    pulumi.runtime.set_mocks(
        echo, project=PLAN_PROJECT, stack=PLAN_STACK, preview=False, monitor=Recorder(echo)
    )
    pulumi.runtime.set_all_config(config, secret_keys=["yunwang:password"])

    def program() -> None:
        build(estate, CloudSettings.from_config(), Shard(*shard))

    pulumi.runtime.test(program)()  # type: ignore[no-untyped-call]
    return Plan(estate=estate.file, resources=recorded, seconds=time.perf_counter() - started)


def _quieten_source_positions() -> None:
    """Skip the SDK's per-resource stack walk (~15 % of a mock run).

    It only feeds source positions to the engine's diagnostics, which a mock
    run has no use for. Private API: if it moves, planning is slower, not wrong.
    """
    from pulumi.runtime import resource
    from pulumi.runtime.proto import source_pb2

    if hasattr(resource, "_get_stack_trace"):
        resource._get_stack_trace = source_pb2.StackTrace


def _child(estate: Estate, config: dict[str, str], shard: tuple[int, int], conn: Any) -> None:
    # The mock run builds ~100 objects per resource, many in reference cycles
    # (futures and their callbacks), and the cyclic collector rescans the
    # growing heap again and again: measured, ~60 % of the CPU of a full-city
    # plan. This process lives for one plan; without collection its peak
    # memory grows by ~5 % (287 -> 301 MB for the full city).
    gc.disable()
    try:
        conn.send(("ok", _run(estate, config, shard)))
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class PlanError(Exception):
    """The program failed under the mock runtime (the message is one line)."""


def read_stack_config(path: Path) -> dict[str, Any]:
    """The `config:` of a Pulumi.<stack>.yaml; PlanError in one line if it has none."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, *YAML_LOAD_ERRORS) as exc:
        message = f"{path}: cannot read the stack file ({exc.__class__.__name__}: {exc})"
        raise PlanError(message.splitlines()[0]) from None
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        raise PlanError(f"{path}: expected a mapping under `config:`")
    _check_settings(path, config)
    return config


# The program's settings (infra/settings.py `CloudSettings.from_config`; that
# module imports pulumi, which the plan loads only in its workers).
NAMESPACE = "yunwang"
_SETTINGS = (
    "estate", "authUrl", "userName", "userDomain", "adminProject", "password",
    "physicalNetwork", "vlanStart", "replicationZone", "keyPair", "extranetTenants",
)  # fmt: skip


def _check_settings(path: Path, config: dict[str, Any]) -> None:
    """The program's own settings, checked before it runs: a misspelt one
    would silently take its default, and Pulumi's own error for a wrong type
    names the estate, not this file."""
    for key, value in config.items():
        namespace, _, name = str(key).partition(":")
        if namespace != NAMESPACE:
            continue
        if name not in _SETTINGS:
            raise PlanError(
                f"{path}: config.{key}: unknown setting (expected one of "
                f"{', '.join(f'{NAMESPACE}:{s}' for s in _SETTINGS)})"
            )
        if name == "vlanStart" and _vlan(value) is None:
            raise PlanError(f"{path}: config.{key}: expected a VLAN id 1-4094, found {value!r:.40}")
        if name == "extranetTenants" and (
            not isinstance(value, list) or not all(isinstance(t, str) for t in value)
        ):
            raise PlanError(f"{path}: config.{key}: expected a list of tenant codes")


def _vlan(value: object) -> int | None:
    """A VLAN id as the stack file holds it (Pulumi keeps config as text)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4094:
        return value
    return None


def check_stack_against(path: Path, config: Mapping[str, Any], estate: Estate) -> None:
    """Settings that name parts of the estate must name parts it has, and
    the VLANs of its segments (one per county and township, counted from
    vlanStart as infra/program.py numbers them) must all be VLAN ids."""
    start = _vlan(config.get(f"{NAMESPACE}:vlanStart", 1000)) or 1000
    segments = sum(1 for n in estate.nodes() if n.level in ("county", "township"))
    if start + segments - 1 > 4094:
        raise PlanError(
            f"{path}: config.{NAMESPACE}:vlanStart: {segments} extranet segments from VLAN "
            f"{start} run past 4094; expected at most {4095 - segments}"
        )
    zone = config.get(f"{NAMESPACE}:replicationZone")
    if zone is not None and zone not in {z.name for z in estate.zones}:
        raise PlanError(
            f"{path}: config.{NAMESPACE}:replicationZone: no zone {zone!r:.40} in the "
            f"estate (expected one of {', '.join(z.name for z in estate.zones)})"
        )
    tenants = {t.code for t in estate.tenants}
    for code in config.get(f"{NAMESPACE}:extranetTenants", []):
        if code not in tenants:
            raise PlanError(
                f"{path}: config.{NAMESPACE}:extranetTenants: no tenant {code!r:.40} in the estate"
            )


def default_workers() -> int:
    """The cores nobody else is using (the plan is CPU-bound), between 1 and 4."""
    idle = (os.cpu_count() or 1) - os.getloadavg()[0]
    return max(1, min(4, round(idle)))


def plan_estates(
    estates: list[Estate],
    stack_config: Mapping[str, Any] | None = None,
    workers: int | None = None,
) -> list[Plan]:
    """Plan each estate, each split over `workers` forked processes, all at once.

    Shards overlap in the city-wide resources; merging keeps one of each
    (same URN, same inputs) and sorts by URN, so a plan does not depend on
    how many workers made it.
    """
    import pulumi_openstack  # noqa: F401 (imported once here, shared by every fork)

    count = workers or default_workers()
    ctx = multiprocessing.get_context("fork")
    jobs: list[tuple[int, Any, Any]] = []
    for n, estate in enumerate(estates):
        config = plan_config(estate.file, stack_config)
        for index in range(count):
            receive, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(
                target=_child, args=(estate, config, (index, count), send), daemon=True
            )
            proc.start()
            send.close()
            jobs.append((n, proc, receive))
    parts: dict[int, list[Plan]] = {n: [] for n in range(len(estates))}
    failures: list[str] = []
    for n, proc, conn in jobs:
        try:
            status, payload = conn.recv()
        except EOFError:
            status, payload = "error", f"planner process died (exit code {proc.exitcode})"
        proc.join()
        if status == "ok":
            parts[n].append(payload)
        else:
            failures.append(f"{estates[n].file}: {payload}")
    if failures:
        raise PlanError(failures[0])
    return [merge(estates[n].file, parts[n]) for n in range(len(estates))]


def merge(estate_file: str, parts: list[Plan]) -> Plan:
    unique: dict[str, Planned] = {}
    for part in parts:
        for resource in part.resources:
            unique.setdefault(resource.urn, resource)
    return Plan(
        estate=estate_file,
        resources=[unique[urn] for urn in sorted(unique)],
        seconds=max((p.seconds for p in parts), default=0.0),
    )


def plan_estate(estate: Estate, workers: int | None = None) -> Plan:
    return plan_estates([estate], workers=workers)[0]
