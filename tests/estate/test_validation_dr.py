"""A system's DR placement (`dr: {standby, backup_paths}`): each bad value
is one precise line; a good one is read back."""

from __future__ import annotations

import pytest

from tests.estate.helpers import Edit, assert_one_precise_line, dump, load_ok, set_at, small_data

DR_CASES: list[tuple[str, Edit, str, str]] = [
    (
        "dr placement without a dr class",
        set_at(
            ["tenants", 0, "systems", 0],
            {
                "code": "x",
                "name": "x",
                "zone": "exchange",
                "mlps_level": 2,
                "dr": {"standby": "dr-h1"},
            },
        ),
        "tenants[0].systems[0].dr",
        "a system without dr_class has no DR placement",
    ),
    (
        "dr standby is the system's own host",
        set_at(["tenants", 0, "systems", 0, "dr"], {"standby": "jwzh-db"}),
        "tenants[0].systems[0].dr.standby",
        "'jwzh-db' is one of this system's own hosts",
    ),
    (
        "dr standby not a host name",
        set_at(["tenants", 0, "systems", 0, "dr"], {"standby": "DR H1"}),
        "tenants[0].systems[0].dr.standby",
        "found 'DR H1'",
    ),
    (
        "dr backup path relative",
        set_at(["tenants", 0, "systems", 0, "dr"], {"backup_paths": ["etc/postgresql"]}),
        "tenants[0].systems[0].dr.backup_paths[0]",
        "expected an absolute path",
    ),
    (
        "dr backup path climbing",
        set_at(["tenants", 0, "systems", 0, "dr"], {"backup_paths": ["/srv/../etc"]}),
        "tenants[0].systems[0].dr.backup_paths[0]",
        "without '..'",
    ),
    (
        "dr backup path shell words",
        set_at(["tenants", 0, "systems", 0, "dr"], {"backup_paths": ["/srv; rm -rf /"]}),
        "tenants[0].systems[0].dr.backup_paths[0]",
        "found '/srv; rm -rf /'",
    ),
    (
        "dr backup path twice",
        set_at(["tenants", 0, "systems", 0, "dr"], {"backup_paths": ["/srv", "/srv"]}),
        "tenants[0].systems[0].dr",
        "backup_paths: /srv is listed twice",
    ),
    (
        "dr backup paths bounded",
        set_at(["tenants", 0, "systems", 0, "dr"], {"backup_paths": [f"/p{i}" for i in range(65)]}),
        "tenants[0].systems[0].dr.backup_paths",
        "at most 64 items",
    ),
    (
        "dr unknown key",
        set_at(["tenants", 0, "systems", 0, "dr"], {"stanby": "dr-h1"}),
        "tenants[0].systems[0].dr.stanby",
        "expected one of: backup_paths, standby",
    ),
]


@pytest.mark.parametrize(
    ("name", "edit", "path", "message"), DR_CASES, ids=[c[0] for c in DR_CASES]
)
def test_dr_placement_rule_reports_one_precise_line(
    name: str, edit: Edit, path: str, message: str
) -> None:
    assert_one_precise_line(edit, path, message)


def test_the_dr_placement_is_read_from_the_system() -> None:
    jwzh = next(s for s in load_ok(dump(small_data())).systems() if s.code == "jwzh")
    assert (jwzh.dr.standby, jwzh.dr.backup_paths) == ("dr-h1", ("/etc/postgresql",))
    portal = next(s for s in load_ok(dump(small_data())).systems() if s.code == "portal")
    assert (portal.dr.standby, portal.dr.backup_paths) == (None, ())
