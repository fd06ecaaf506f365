"""Where the receiver listens: flags, else the estate's `monitoring.traps`,
else 127.0.0.1:162; a wrong value is one line naming its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from estate import EstateError, load_text
from monitors.traps.service import receiver_settings

SMALL = (Path(__file__).resolve().parents[2] / "examples" / "small.yaml").read_text()


def with_traps(block: str) -> str:
    return SMALL.replace("monitoring:\n", f"monitoring:\n  traps: {block}\n", 1)


def test_loopback_and_162_unless_configured(tmp_path: Path) -> None:
    settings = receiver_settings(load_text(SMALL, "t.yaml"), None, None, tmp_path / "e.json")
    assert (settings.listen, settings.port, settings.engine_id) == ("127.0.0.1", 162, None)


def test_the_estate_declares_and_flags_override(tmp_path: Path) -> None:
    estate = load_text(
        with_traps("{listen: '2001:db8::7', port: 1162, engine_id: '0x80001f8805aabbccdd'}"),
        "t.yaml",
    )
    declared = receiver_settings(estate, None, None, tmp_path / "e.json")
    assert (declared.listen, declared.port) == ("2001:db8::7", 1162)
    assert declared.engine_id == bytes.fromhex("80001f8805aabbccdd")
    flagged = receiver_settings(estate, "127.0.0.1", 10162, tmp_path / "e.json")
    assert (flagged.listen, flagged.port) == ("127.0.0.1", 10162)


@pytest.mark.parametrize(
    ("block", "where"),
    [
        ("{port: 0}", "monitoring.traps.port"),
        ("{listen: everywhere}", "monitoring.traps.listen"),
        ("{engine_id: '0x12'}", "monitoring.traps.engine_id"),
        ("{community: public}", "monitoring.traps.community"),
    ],
)
def test_a_wrong_value_is_one_line_with_its_place(block: str, where: str) -> None:
    with pytest.raises(EstateError) as caught:
        load_text(with_traps(block), "t.yaml")
    lines = [str(problem) for problem in caught.value.problems]
    assert len(lines) == 1 and where in lines[0] and lines[0].startswith("t.yaml:"), lines


def test_a_device_engine_id_is_declared_in_hex_or_refused_in_one_line() -> None:
    def declaring(engine_id: str) -> str:
        return SMALL.replace(
            "{name: py-core-1, model: huawei-s12704}",
            f"{{name: py-core-1, model: huawei-s12704, engine_id: '{engine_id}'}}",
        )

    estate = load_text(declaring("0x80001f8880c0ffee08"), "t.yaml")
    found = next(d for d in estate.devices() if d.name == "py-core-1")
    assert found.engine_id == bytes.fromhex("80001f8880c0ffee08")
    with pytest.raises(EstateError) as caught:
        load_text(declaring("not-hex"), "t.yaml")
    lines = [str(problem) for problem in caught.value.problems]
    assert len(lines) == 1 and "engine_id" in lines[0] and lines[0].startswith("t.yaml:"), lines
