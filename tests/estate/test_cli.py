"""`yunwang validate` and `yunwang show`: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from yunwang.cli import app

runner = CliRunner()


def test_validate_a_good_file(small_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(small_path)])
    assert result.exit_code == 0
    assert (
        "valid — 2 counties, 4 townships, 4 villages, 6 dual links, 3 tenants, 6 systems"
        in result.stdout
    )


def test_validate_a_missing_file_is_invalid_input(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "none.yaml")])
    assert result.exit_code == 1
    assert "none.yaml: (top): no such file" in result.stderr


def test_usage_error_exits_2() -> None:
    assert runner.invoke(app, ["validate"]).exit_code == 2
    assert runner.invoke(app, ["show", "--colour"]).exit_code == 2


def test_show_json_is_machine_readable(small_path: Path) -> None:
    result = runner.invoke(app, ["show", "--json", str(small_path)])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["levels"]["county"] == {"nodes": 2, "links": 4, "owed_bandwidth_bps": 1_000_000_000}
    assert [p["id"] for p in data["link_pairs"]][:2] == ["hl", "hl-zyl"]
    assert {z["name"] for z in data["zones"]} >= {"gov-extranet", "exchange"}
    assert data["tenants"][0] == {
        "code": "gaj",
        "name": "市公安局",
        "systems": 2,
        "hosts": 5,
        "mlps3": 1,
    }
    assert data["dr_classes"]["gold"]["rpo_s"] == 300


def test_show_tables_for_people(small_path: Path) -> None:
    result = runner.invoke(app, ["show", str(small_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for heading in (
        "Extranet levels",
        "Dual links",
        "Tenants, 3 departments",
        "Zones and isolation matrix",
    ):
        assert heading in result.stdout
    assert "华龙区 (hl)" in result.stdout
