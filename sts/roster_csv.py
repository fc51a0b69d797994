"""roster.csv (student_id,tag,name,group,consent): the Roster, every problem at once."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from engine.roster import Roster, RosterEntry
from geometry.errors import InputError

ROSTER_COLUMNS = ("student_id", "tag", "name", "group", "consent")


def read_roster(path: str | Path) -> Roster:
    """Read roster.csv (student_id,tag,name,group,consent); consent is `granted` or not."""
    p = Path(path)
    with p.open(newline="", encoding="utf-8") as fh:
        return parse_roster(fh.read().splitlines(), str(p))


def parse_roster(lines: Iterable[str], source: str) -> Roster:
    """Validate roster lines (CSV text with a header)."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None or [h.strip() for h in header] != list(ROSTER_COLUMNS):
        raise InputError(
            f"{source}: line 1: the header must be {','.join(ROSTER_COLUMNS)}, got "
            f"{','.join(header or [])!r}; fix the first line"
        )
    entries: list[RosterEntry] = []
    seen_tags: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    problems: list[str] = []
    for lineno, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(ROSTER_COLUMNS):
            problems.append(
                f"line {lineno}: {len(row)} columns, expected {len(ROSTER_COLUMNS)}; "
                "quote names that contain commas"
            )
            continue
        sid, tag, name, group, consent = (c.strip() for c in row)
        if not sid or not tag or not group:
            problems.append(
                f"line {lineno}: student_id, tag and group must not be empty; fill them in"
            )
            continue
        for value, seen, what in ((tag, seen_tags, "tag"), (sid, seen_ids, "student_id")):
            if value in seen:
                problems.append(
                    f"line {lineno}: {what} {value!r} already on line {seen[value]}; "
                    "each must be unique"
                )
            seen[value] = lineno
        entries.append(RosterEntry(sid, tag, name, group, consent.lower() == "granted"))
    if problems:
        raise InputError(
            "\n  ".join([f"{source}: {len(problems)} problem(s) in the roster", *problems])
        )
    return Roster(tuple(entries))
