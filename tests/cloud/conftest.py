"""One real test cloud (Keystone; Neutron and Cinder per region) for the cloud tests, and the small estate deployed into it.

Starting the cloud costs ~40 s on an idle machine (more on a busy one) and
~400 MiB, so it is started once for this package and stopped when its tests
end (package scope), not left idle under the rest of the session; tests that
change it by hand do so last, in their own module, and say what they changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from estate import Estate, load
from infra.planning import Plan, plan_estates
from tests.cloud.testcloud import REGIONS, TestCloud
from tests.cloud.translate import Outcome, Translator

ROOT = Path(__file__).resolve().parents[2]
DEPLOYER = "yunwang-deployer"  # the program's automation account (infra.settings default)


@pytest.fixture(scope="package")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCloud]:
    with TestCloud.start(tmp_path_factory.mktemp("testcloud")) as running:
        conn = running.connect()
        # The city's operator creates the deployer before the first `pulumi up`.
        conn.identity.create_user(name=DEPLOYER, domain_id="default", password="unused-here")
        conn.close()
        yield running


@pytest.fixture(scope="package")
def admin(cloud: TestCloud) -> Iterator[Any]:
    conn = cloud.connect()
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def small_estate() -> Estate:
    return load(ROOT / "examples" / "small.yaml")


@pytest.fixture(scope="session")
def small_plan(small_estate: Estate) -> Plan:
    return plan_estates([small_estate], workers=1)[0]


@pytest.fixture(scope="package")
def deployed(cloud: TestCloud, small_plan: Plan) -> Outcome:
    """The small estate's resources, created in the cloud exactly as planned, in both regions."""
    return Translator(cloud.connect, small_plan, REGIONS).run()
