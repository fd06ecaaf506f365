"""`make lint`: the import layers of DESIGN.md ([tool.importlinter] in pyproject.toml).

import-linter refuses a root package that is not on disk, and playbooks/,
dr/ and dashboards/ are declared before they are written: this passes the
contracts on with only the rooms that exist yet (their layers are optional).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path


def main() -> int:
    config = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "importlinter"
    ]
    present = [name for name in config["root_packages"] if Path(name, "__init__.py").is_file()]
    lines = ["[importlinter]", "root_packages =", *(f"    {name}" for name in present)]
    for number, contract in enumerate(config["contracts"], 1):
        lines.append(f"[importlinter:contract:{number}]")
        for key, value in contract.items():
            if isinstance(value, list):
                lines += [f"{key} =", *(f"    {item}" for item in value)]
            else:
                lines.append(f"{key} = {value}")
    with tempfile.NamedTemporaryFile("w", suffix=".ini", encoding="utf-8") as ini:
        ini.write("\n".join(lines) + "\n")
        ini.flush()
        lint = Path(sys.executable).parent / "lint-imports"
        return subprocess.call([str(lint), "--no-logo", "--no-cache", ini.name])


if __name__ == "__main__":
    sys.exit(main())
