"""Consent files for `sts consent import`: a consent list, or a roster's consent column.

A consent list has the header `student_id,tag,scope,granted_on,expires_on` (scope:
safety, attendance or both as `safety+attendance`; dates ISO, expires_on may be empty).
A roster.csv (`student_id,tag,name,group,consent`) is read for its consent column only:
`granted` grants both scopes from today; anything else withdraws what is on record.
Names are never read into the registry. Every problem is reported at once.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from geometry.errors import InputError
from store.consent import SCOPES, check_id
from sts.retention_policy import parse_duration
from sts.text_input import read_text

LIST_COLUMNS = ("student_id", "tag", "scope", "granted_on", "expires_on")
ROSTER_COLUMNS = ("student_id", "tag", "name", "group", "consent")


@dataclass(frozen=True, slots=True)
class ConsentLine:
    """One student's consent from a file: granted scopes with dates, or a withdrawal."""

    student_id: str
    tag: str
    scopes: tuple[str, ...]
    granted_at: float | None  # None: withdraw what is on record
    expires_at: float | None


def parse_date(text: str, what: str) -> float:
    """An ISO date or date-time (local time when no zone is given) as epoch seconds."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{what} {text!r}: give an ISO date such as 2026-09-01") from None
    return (when if when.tzinfo else when.astimezone()).timestamp()


def parse_expiry(text: str, now: float) -> float | None:
    """--expires: never, a duration from now (365d), or an ISO date."""
    if text == "never":
        return None
    span = parse_duration(text)
    return now + span if span is not None else parse_date(text, "--expires")


def _list_line(row: dict[str, str], now: float) -> ConsentLine:
    scopes = tuple(s.strip() for s in row["scope"].split("+"))
    for s in scopes:
        if s not in SCOPES:
            raise InputError(f"scope {s!r} is not one of {', '.join(SCOPES)}")
    granted = parse_date(row["granted_on"], "granted_on") if row["granted_on"] else now
    expires = parse_date(row["expires_on"], "expires_on") if row["expires_on"] else None
    if expires is not None and expires <= granted:
        raise InputError("expires_on must be after granted_on")
    return ConsentLine(row["student_id"], row["tag"], scopes, granted, expires)


def _roster_line(row: dict[str, str], now: float) -> ConsentLine:
    granted = now if row["consent"].lower() == "granted" else None
    return ConsentLine(row["student_id"], row["tag"], SCOPES, granted, None)


def read_consent_file(path: Path, now: float) -> list[ConsentLine]:
    """The lines of a consent list or roster (see the module docstring)."""
    text = read_text(path, "consent file")
    reader = csv.DictReader(text.splitlines())
    header = tuple(h.strip() for h in reader.fieldnames or ())
    if header == LIST_COLUMNS:
        parse = _list_line
    elif header == ROSTER_COLUMNS:
        parse = _roster_line
    else:
        raise InputError(
            f"{path}: line 1: the header must be {','.join(LIST_COLUMNS)} "
            f"(or a roster's {','.join(ROSTER_COLUMNS)}); fix the first line"
        )
    lines: list[ConsentLine] = []
    problems: list[str] = []
    for row in reader:
        clean = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if not any(clean.values()):
            continue
        try:
            check_id(clean["student_id"], "student_id")
            check_id(clean["tag"], "tag")
            lines.append(parse(clean, now))
        except InputError as exc:
            problems.append(f"line {reader.line_num}: {exc}")
    if problems:
        raise InputError("\n  ".join([f"{path}: {len(problems)} problem(s)", *problems]))
    return lines
