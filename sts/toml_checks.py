"""Checks shared by the TOML readers: collect every problem, name the key and the fix."""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from geometry.errors import ConfigError
from sts.text_input import read_text


class Problems:
    """Collects problems so a file reports all of them at once."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def add(self, key: str, message: str, fix: str) -> None:
        self.lines.append(f"{key}: {message}. Fix: {fix}")

    def raise_if_any(self, what: str) -> None:
        if self.lines:
            head = f"{self.source}: {len(self.lines)} problem(s) in the {what}"
            raise ConfigError("\n  ".join([head, *self.lines]))


#: Minutes in a day: the largest value any minutes key of a rules or timetable file takes.
MINUTES_PER_DAY = 1440.0


def read_toml(path: str | Path, what: str = "configuration") -> dict[str, Any]:
    """A TOML file read through the common text checks, parsed, or a ConfigError."""
    p = Path(path)
    text = read_text(p, what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc}); fix the syntax at that line") from None


def str_list(probs: Problems, key: str, value: Any) -> list[str] | None:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        probs.add(key, f"must be a list of strings, got {value!r}", f'write {key} = ["a", "b"]')
        return None
    return list(value)


def number(
    probs: Problems,
    key: str,
    value: Any,
    *,
    minimum: float = 0.0,
    maximum: float = MINUTES_PER_DAY,
    positive: bool = False,
) -> float | None:
    """A finite number within [minimum, maximum] (> 0 when `positive`), else a problem."""
    name = key.rsplit(".", 1)[-1]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        probs.add(key, f"must be a finite number, got {value!r}", f"write {name} = 5")
        return None
    if value < minimum or value > maximum or (positive and value <= 0):
        low = "greater than 0" if positive else f"at least {minimum:g}"
        bound = f"{low} and at most {maximum:g}"
        probs.add(key, f"must be {bound}, got {value!r}", f"give {name} a value {bound}")
        return None
    return float(value)


def check_keys(probs: Problems, where: str, table: Mapping[str, Any], allowed: set[str]) -> None:
    for k in sorted(set(table) - allowed):
        probs.add(
            f"{where}.{k}",
            "unknown key",
            f"remove it or check the spelling; allowed here: {', '.join(sorted(allowed))}",
        )


def array_of_tables(
    probs: Problems, data: Mapping[str, Any], key: str, noun: str
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(index, where, table) for each table of the array `key`; anything else is a problem."""
    raw = data.get(key, [])
    fix = f"write each {noun} under [[{key}]]"
    if not isinstance(raw, list):
        probs.add(key, "must be an array of tables", fix)
        return
    for i, table in enumerate(raw):
        where = f"{key}[{i}]"
        if isinstance(table, dict):
            yield i, where, table
        else:
            probs.add(where, "must be a table", fix)


def close_match(name: str, options: Iterable[str]) -> str:
    near = difflib.get_close_matches(name, sorted(options), n=1)
    return f' (did you mean "{near[0]}"?)' if near else ""


def resolve_path(base: Path, ref: str | None) -> str | None:
    """A path named inside a file, resolved against that file's folder."""
    if ref is None:
        return None
    p = Path(ref)
    return str(p if p.is_absolute() else base.parent / p)


def check_group(probs: Problems, key: str, group: str, groups: frozenset[str] | None) -> None:
    """A group name must be one of the roster's groups (when a roster is known)."""
    if groups is not None and group not in groups:
        probs.add(
            key,
            f"unknown group {group!r}{close_match(group, groups)}",
            f"use a group from the roster ({', '.join(sorted(groups)) or 'none'})",
        )
