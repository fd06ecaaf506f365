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

import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from estate import Estate

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
    return value


def _run(estate_file: str) -> Plan:
    """Plan one estate in this process (the caller makes sure it is a fresh one)."""
    import pulumi
    from pulumi.runtime import mocks

    from estate import load

    started = time.perf_counter()
    estate = load(estate_file)
    recorded: list[Planned] = []

    class Echo(pulumi.runtime.Mocks):
        def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
            name = str(args.args.get("name", "x"))
            return {"id": f"{args.token.rsplit(':', 1)[-1]}-{name}", "name": name}, []

    class Recorder(mocks.MockMonitor):
        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
            response = super().RegisterResource(request)
            if request.type == "pulumi:pulumi:Stack":
                return response
            urn = response.urn
            registration = self.resources[urn]
            secrets: list[str] = []
            inputs = _strip(dict(registration.state), "", secrets)
            recorded.append(
                Planned(
                    urn=urn,
                    type=request.type,
                    name=request.name,
                    id=registration.id or "",
                    parent=request.parent,
                    provider=request.provider,
                    custom=bool(request.custom),
                    inputs=inputs,
                    secrets=tuple(secrets),
                )
            )
            return response

    _quieten_source_positions()
    echo = Echo()
    pulumi.runtime.set_mocks(
        echo, project=PLAN_PROJECT, stack=PLAN_STACK, preview=False, monitor=Recorder(echo)
    )
    pulumi.runtime.set_all_config(
        {
            "yunwang:estate": estate_file,
            "yunwang:authUrl": PLACEHOLDER_AUTH_URL,
            # A placeholder: planning needs no credentials, but the program
            # still reads it the one way it may (require_secret).
            "yunwang:password": "plan-placeholder",
        },
        secret_keys=["yunwang:password"],
    )

    from infra.program import build
    from infra.settings import CloudSettings

    def program() -> pulumi.Output[Any]:
        city = build(estate, CloudSettings.from_config())
        return city.inventory

    pulumi.runtime.test(program)()
    return Plan(estate=estate_file, resources=recorded, seconds=time.perf_counter() - started)


def _quieten_source_positions() -> None:
    """Skip the SDK's per-resource stack walk (~15 % of a mock run).

    It only feeds source positions to the engine's diagnostics, which a mock
    run has no use for. Private API: if it moves, planning is slower, not wrong.
    """
    from pulumi.runtime import resource
    from pulumi.runtime.proto import source_pb2

    if hasattr(resource, "_get_stack_trace"):
        resource._get_stack_trace = source_pb2.StackTrace


def _child(estate_file: str, conn: Any) -> None:
    try:
        conn.send(("ok", _run(estate_file)))
    except BaseException as exc:  # noqa: BLE001 (sent to the parent, which raises)
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class PlanError(Exception):
    """The program failed under the mock runtime (the message is one line)."""


def plan_files(*estate_files: str) -> list[Plan]:
    """Plan each estate file in its own forked process, all at once."""
    ctx = multiprocessing.get_context("fork")
    jobs = []
    for path in estate_files:
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(path, child), daemon=True)
        proc.start()
        child.close()
        jobs.append((path, proc, parent))
    plans: list[Plan] = []
    for path, proc, conn in jobs:
        try:
            status, payload = conn.recv()
        except EOFError:
            status, payload = "error", f"planner process died (exit code {proc.exitcode})"
        proc.join()
        if status != "ok":
            raise PlanError(f"{path}: {payload}")
        plans.append(payload)
    return plans


def plan_estate(estate: Estate) -> Plan:
    return plan_files(estate.file)[0]
