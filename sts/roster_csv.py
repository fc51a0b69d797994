"""roster.csv (student_id,tag,name,group,consent): the Roster, every problem at once."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from engine.roster import Roster, RosterEntry
from geometry.errors import InputError
from sts.text_input import read_text

ROSTER_COLUMNS = ("student_id", "tag", "name", "group", "consent")
#: The consent column's words: only `granted` lets a badge be processed; an empty cell is no.
CONSENT_VALUES = ("granted", "pending", "refused", "withdrawn", "expired", "")


def read_roster(path: str | Path) -> Roster:
    """Read roster.csv (student_id,tag,name,group,consent); consent is `granted` or not."""
    p = Path(path)
    text = read_text(p, "roster")
    if "\r" in text.replace("\r\n", "\n"):
        raise InputError(f"{p}: a line break inside a field or a lone CR. Fix: save as CSV UTF-8")
    return parse_roster(text.split("\n"), str(p))


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
    lineno = 1
    for row in reader:
        lineno, spanned = reader.line_num, reader.line_num - lineno > 1
        if spanned:
            problems.append(
                f"line {lineno}: a quoted field holds a line break, so the row spans lines; "
                "remove the line break"
            )
            continue
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
        if consent.lower() not in CONSENT_VALUES:
            problems.append(
                f"line {lineno}: consent {consent!r} is not one of {', '.join(CONSENT_VALUES)}; "
                "write granted only where a guardian's consent is on file"
            )
            continue
        entries.append(RosterEntry(sid, tag, name, group, consent.lower() == "granted"))
    if problems:
        raise InputError(
            "\n  ".join([f"{source}: {len(problems)} problem(s) in the roster", *problems])
        )
    return Roster(tuple(entries))
