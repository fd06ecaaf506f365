from pathlib import Path

import pytest

from estate.home import yunwang_home


def test_set_home_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YUNWANG_HOME", str(tmp_path))
    assert yunwang_home() == tmp_path


@pytest.mark.parametrize("value", [None, ""])
def test_unset_or_empty_home_is_the_user_default(
    value: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    if value is None:
        monkeypatch.delenv("YUNWANG_HOME", raising=False)
    else:
        monkeypatch.setenv("YUNWANG_HOME", value)
    assert yunwang_home() == tmp_path / ".local/share/yunwang"
