"""The one error hierarchy of STS: every message says what is wrong and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


class StsError(Exception):
    """Base of every error STS raises on purpose; the CLI prints it without a traceback."""

    exit_code: int = 2


class InputError(StsError):
    """A file or value given by the user is malformed (names the file, line or field)."""


class ConfigError(StsError):
    """A configuration file (TOML) is invalid (names the file, key and fix)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding about an input: where it is, what is wrong, and the fix."""

    severity: Severity
    feature_id: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"{self.severity}: {self.feature_id}: {self.message}.{fix}"


class FloorplanError(StsError):
    """A floorplan failed validation; `problems` lists every error and warning at once."""

    def __init__(self, source: str, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.source = source
        self.problems = tuple(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        lines = [f"{source}: {len(errors)} error(s) in the floorplan"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))
