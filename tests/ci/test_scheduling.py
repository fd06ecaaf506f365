"""`make test`'s units of work (tests/scheduling.py): what they name exists,
and a unit keeps together what shares a fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scheduling import COSTLIEST, SHARED_SERVICE, rank, unit_of, worker_index

ROOT = Path(__file__).resolve().parents[2]


def test_every_unit_named_exists() -> None:
    # A renamed file would otherwise drop silently to the back of the run.
    for unit in (*COSTLIEST, *SHARED_SERVICE):
        assert (ROOT / unit).exists(), unit


def test_a_unit_is_a_file_or_a_folder_sharing_a_service() -> None:
    assert unit_of("tests/dr/test_dr_lab.py::test_x[a::b]") == "tests/dr/test_dr_lab.py"
    assert unit_of("tests/security/test_security_fleet.py::test_y") == "tests/security/"
    assert unit_of("tests/cloud/test_verify_cloud.py::test_z") == "tests/cloud/"


def test_the_costliest_go_first_and_the_rest_keep_their_order() -> None:
    ids = ["tests/audit/test_a.py::t", "tests/security/test_b.py::t",
           "tests/hardening/test_lab_hardening.py::t", "tests/estate/test_c.py::t"]  # fmt: skip
    assert sorted(ids, key=rank) == [ids[2], ids[1], ids[0], ids[3]]


@pytest.mark.parametrize(("name", "index"), [("", 0), ("gw0", 0), ("gw3", 3), ("master", 0)])
def test_worker_index(monkeypatch: pytest.MonkeyPatch, name: str, index: int) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", name)
    assert worker_index() == index
