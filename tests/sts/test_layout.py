"""The layout rules of the house, checked on the source: they fail when someone breaks them."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "sts",
    "engine",
    "geometry",
    "simulator",
    "transports",
    "benchmarks",
    "scripts",
    "tests",
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def python_files() -> list[Path]:
    return [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]


def test_only_the_cli_imports_command_modules() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_files()
        if path != ROOT / "sts" / "cli.py"
        and any(
            m == "sts.commands" or m.startswith("sts.commands.") for m in imported_modules(path)
        )
    ]
    assert offenders == [], "what two commands share lives below them, not in a command module"


def test_the_core_does_no_io_and_imports_no_shell() -> None:
    banned = ("sts", "transports", "simulator", "asyncio", "socket", "websockets", "sqlite3")
    offenders = []
    for pkg in ("engine", "geometry"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            bad = {m for m in imported_modules(path) if m.split(".")[0] in banned}
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}: {sorted(bad)}")
    assert offenders == []
