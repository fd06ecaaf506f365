"""Pulumi's mock runtime for the infra tests, set before any resource exists.

Resources echo their inputs (plus an id); the Keystone lookups answer by
name. Unit tests await real values through `known`, which fails on an
unknown output instead of letting an `apply` callback silently never run.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, TypeVar

import pulumi
import pytest
from pulumi.runtime import mocks
from pulumi.runtime import settings as runtime_settings

from estate import Estate, load
from infra.planning import Plan, plan_estates
from infra.settings import CloudSettings

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]


class CityMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        kind = args.typ.rsplit(":", 1)[-1]
        return f"{kind}/{args.name}", dict(args.inputs)

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        name = str(args.args.get("name", ""))
        return {"id": f"{args.token.rsplit(':', 1)[-1]}/{name}", "name": name}, []


def _current_loop() -> asyncio.AbstractEventLoop:
    """The thread's event loop, made if it has none (as Pulumi's runtime does)."""
    try:
        return asyncio.get_event_loop()
    except RuntimeError:  # an earlier asyncio.run() left the thread without one
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        return loop


def _set_city_mocks() -> asyncio.AbstractEventLoop:
    loop = _current_loop()
    # A root stack made on another loop would be awaited from this one.
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(CityMocks(), project="yunwang", stack="test", preview=False)
    return loop


_mocked_on = [_set_city_mocks()]


@pytest.fixture(autouse=True)
def city_mocks() -> None:
    """The mock runtime on the loop this test runs on. Under `make test` a
    worker runs other folders' files between these (tests/scheduling.py),
    and one that ends with asyncio.run() leaves the thread without the loop
    the runtime's root stack was made on."""
    loop = _current_loop()
    if loop is not _mocked_on[0] or loop.is_closed():
        _mocked_on[0] = _set_city_mocks()


async def known(output: pulumi.Output[T]) -> T:
    """The resolved value of `output`; an unknown one fails the test."""
    assert await output.is_known(), "output is unknown: an assertion on it would pass vacuously"
    return await output.future()  # type: ignore[return-value]


def settings_for(estate: Estate, **overrides: Any) -> CloudSettings:
    values: dict[str, Any] = {
        "estate_file": estate.file,
        "auth_url": "https://keystone.test.invalid:5000/v3",
        "user_name": "yunwang-deployer",
        "user_domain": "Default",
        "admin_project": "admin",
        "password": pulumi.Output.secret("test-password"),
    }
    values.update(overrides)
    return CloudSettings(**values)


@pytest.fixture(scope="session")
def small() -> Estate:
    return load(ROOT / "examples" / "small.yaml")


@pytest.fixture(scope="session")
def small_plan(small: Estate) -> Plan:
    return plan_estates([small], workers=1)[0]


@pytest.fixture(scope="package")
def puyang() -> Estate:
    return load(ROOT / "examples" / "puyang.yaml")


@pytest.fixture(scope="package")
def puyang_plan(puyang: Estate) -> Plan:
    """The full city, planned once for the tests that read it (none changes a plan);
    package-scoped, so its memory goes when the infra tests end."""
    (plan,) = plan_estates([puyang])
    return plan
