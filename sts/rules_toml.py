"""Rules, timetables and rosters from files, validated once, every problem named with its fix.

The formats are documented in docs/rules.md. `parse_rules` and `parse_timetable` take an
already-parsed TOML document (a dict) and do no I/O, so tests and the Engine can feed them
data directly; `load_*` read the files. Every problem is collected and reported at once in
one `ConfigError`, each line naming the file, the key and the fix.
"""

from __future__ import annotations

import csv
import difflib
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.attendance import AttendancePolicy
from engine.events import Severity
from engine.rules import STATELESS_TYPES, TIMETABLE_TYPES, WHEN, Rule, RulesConfig, RuleType
from engine.schedule import (
    WEEKDAYS,
    DateRange,
    Lesson,
    Period,
    SchoolCalendar,
    Timetable,
    format_clock,
    parse_clock,
)
from geometry.errors import ConfigError, InputError
from geometry.model import Floorplan, ZoneKind

ROSTER_COLUMNS = ("student_id", "tag", "name", "group", "consent")

_COMMON_KEYS = {"id", "type", "severity", "message", "groups"}
_RULE_KEYS: Mapping[RuleType, set[str]] = {
    RuleType.RESTRICTED_ZONE: {"zones", "kinds", "levels", "after_min", "when"},
    RuleType.SAFE_AREA_LEFT: {"zones", "after_min"},
    RuleType.DWELL_LIMIT: {"zones", "kinds", "levels", "limit_min", "when"},
    RuleType.NOT_IN_TIMETABLED_ROOM: {"after_min"},
    RuleType.BADGE_LOST: {"when"},
    RuleType.MUSTER_OVERDUE: {"after_min"},
    RuleType.HALL_PASS: {"max_out", "flagged", "max_out_min"},
}
_DEFAULT_SEVERITY: Mapping[RuleType, Severity] = {
    RuleType.RESTRICTED_ZONE: Severity.CRITICAL,
    RuleType.SAFE_AREA_LEFT: Severity.CRITICAL,
    RuleType.DWELL_LIMIT: Severity.WARNING,
    RuleType.NOT_IN_TIMETABLED_ROOM: Severity.WARNING,
    RuleType.BADGE_LOST: Severity.WARNING,
    RuleType.MUSTER_OVERDUE: Severity.CRITICAL,
    RuleType.HALL_PASS: Severity.WARNING,
}


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One badge holder: a student (or staff member), their tag, group and consent."""

    student_id: str
    tag: str
    name: str
    group: str
    consent: bool


@dataclass(frozen=True, slots=True)
class Roster:
    """The roster in file order."""

    entries: tuple[RosterEntry, ...]

    @property
    def groups(self) -> frozenset[str]:
        """Every group named in the roster."""
        return frozenset(e.group for e in self.entries)

    @property
    def tags(self) -> frozenset[str]:
        """Every tag in the roster."""
        return frozenset(e.tag for e in self.entries)

    def tag_groups(self, consented_only: bool = True) -> dict[str, str]:
        """Tag -> group, for consented badges only unless told otherwise."""
        return {e.tag: e.group for e in self.entries if e.consent or not consented_only}

    def members(self, consented_only: bool = True) -> dict[str, list[str]]:
        """Group -> tags, for consented badges only unless told otherwise."""
        out: dict[str, list[str]] = {}
        for e in self.entries:
            if e.consent or not consented_only:
                out.setdefault(e.group, []).append(e.tag)
        return out

    def by_tag(self) -> dict[str, RosterEntry]:
        """Tag -> entry."""
        return {e.tag: e for e in self.entries}


@dataclass(frozen=True, slots=True)
class LoadedRules:
    """A validated rules file and the timetable path it names (relative paths resolved)."""

    config: RulesConfig
    timetable: str | None = None


@dataclass(frozen=True, slots=True)
class LoadedTimetable:
    """A validated timetable, its attendance policy and the roster path it names."""

    timetable: Timetable
    policy: AttendancePolicy = field(default_factory=AttendancePolicy)
    roster: str | None = None


class _Problems:
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


def _read_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc}); fix the syntax at that line") from None


def _str_list(probs: _Problems, key: str, value: Any) -> list[str] | None:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        probs.add(key, f"must be a list of strings, got {value!r}", f'write {key} = ["a", "b"]')
        return None
    return list(value)


def _number(
    probs: _Problems, key: str, value: Any, *, minimum: float = 0.0, positive: bool = False
) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        probs.add(key, f"must be a number, got {value!r}", f"write {key.rsplit('.', 1)[-1]} = 5")
        return None
    if value < minimum or (positive and value <= 0):
        bound = "greater than 0" if positive else f"at least {minimum:g}"
        name = key.rsplit(".", 1)[-1]
        probs.add(key, f"must be {bound}, got {value!r}", f"give {name} a value {bound}")
        return None
    return float(value)


def _check_keys(probs: _Problems, where: str, table: Mapping[str, Any], allowed: set[str]) -> None:
    for k in sorted(set(table) - allowed):
        probs.add(
            f"{where}.{k}",
            "unknown key",
            f"remove it or check the spelling; allowed here: {', '.join(sorted(allowed))}",
        )


def _array_of_tables(
    probs: _Problems, data: Mapping[str, Any], key: str, noun: str
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


def _close(name: str, options: Iterable[str]) -> str:
    near = difflib.get_close_matches(name, sorted(options), n=1)
    return f' (did you mean "{near[0]}"?)' if near else ""


def parse_rules(
    data: Mapping[str, Any],
    source: str,
    floorplan: Floorplan,
    groups: frozenset[str] | None = None,
    tags: frozenset[str] | None = None,
    has_timetable: bool | None = None,
) -> LoadedRules:
    """Validate a rules document (a parsed TOML dict); `groups`/`tags` come from the roster.

    With `groups` None (no roster), group names cannot be checked and are taken as given.
    `has_timetable` False (no timetable will be given) makes timetable rules an error;
    None defers to whether the document names a timetable.
    """
    probs = _Problems(source)
    _check_keys(probs, "(top level)", data, {"version", "timetable", "alerts", "policy", "rules"})
    if data.get("version", 1) != 1:
        probs.add("version", f"unsupported version {data.get('version')!r}", "write version = 1")
    timetable = data.get("timetable")
    if timetable is not None and not isinstance(timetable, str):
        probs.add("timetable", "must be a path string", 'write timetable = "timetable.toml"')
        timetable = None
    if has_timetable is None:
        has_timetable = timetable is not None

    alerts = data.get("alerts", {})
    cooldown_s = 300.0
    if not isinstance(alerts, dict):
        probs.add("alerts", "must be a table", "write [alerts] with cooldown_min = 5")
    else:
        _check_keys(probs, "alerts", alerts, {"cooldown_min"})
        if "cooldown_min" in alerts:
            v = _number(probs, "alerts.cooldown_min", alerts["cooldown_min"])
            cooldown_s = 300.0 if v is None else v * 60.0

    policy = data.get("policy", {})
    alert_only: frozenset[str] = frozenset()
    if not isinstance(policy, dict):
        probs.add("policy", "must be a table", 'write [policy] with alert_only_groups = ["staff"]')
    else:
        _check_keys(probs, "policy", policy, {"alert_only_groups"})
        got = _str_list(probs, "policy.alert_only_groups", policy.get("alert_only_groups", []))
        if got is not None:
            for g in got:
                _check_group(probs, "policy.alert_only_groups", g, groups)
            alert_only = frozenset(got)

    zone_ids = {z.id for z in floorplan.zones}
    level_ids = {lv.id for lv in floorplan.levels}
    rules: list[Rule] = []
    seen_ids: set[str] = set()
    for i, where, table in _array_of_tables(probs, data, "rules", "rule"):
        rid = table.get("id")
        if not isinstance(rid, str) or not rid:
            probs.add(f"{where}.id", "missing or not a string", f'give the rule an id = "rule-{i}"')
            rid = f"rule-{i}"
        elif rid in seen_ids:
            probs.add(f"{where}.id", f"duplicate rule id {rid!r}", "give every rule its own id")
        else:
            where = f'rules[{i}] (id "{rid}")'
        seen_ids.add(rid)
        rule = _parse_rule(
            probs, where, rid, table, zone_ids, level_ids, groups, tags, alert_only, has_timetable
        )
        if rule is not None:
            rules.append(rule)
    probs.raise_if_any("rules")
    return LoadedRules(RulesConfig(tuple(rules), cooldown_s, alert_only), timetable)


def _check_group(probs: _Problems, key: str, group: str, groups: frozenset[str] | None) -> None:
    if groups is not None and group not in groups:
        probs.add(
            key,
            f"unknown group {group!r}{_close(group, groups)}",
            f"use a group from the roster ({', '.join(sorted(groups)) or 'none'})",
        )


def _parse_rule(
    probs: _Problems,
    where: str,
    rid: str,
    table: Mapping[str, Any],
    zone_ids: set[str],
    level_ids: set[str],
    groups: frozenset[str] | None,
    tags: frozenset[str] | None,
    alert_only: frozenset[str],
    has_timetable: bool,
) -> Rule | None:
    types = ", ".join(t.value for t in RuleType)
    raw_type = table.get("type")
    try:
        rtype = RuleType(str(raw_type))
    except ValueError:
        probs.add(
            f"{where}.type",
            f"unknown rule type {raw_type!r}{_close(str(raw_type), [t.value for t in RuleType])}",
            f"use one of: {types}",
        )
        return None
    _check_keys(probs, where, table, _COMMON_KEYS | _RULE_KEYS[rtype])
    ok = True

    def bad(key: str, message: str, fix: str) -> None:
        nonlocal ok
        ok = False
        probs.add(f"{where}.{key}", message, fix)

    severity = _DEFAULT_SEVERITY[rtype]
    if "severity" in table:
        try:
            severity = Severity(table["severity"])
        except ValueError:
            bad(
                "severity",
                f"unknown severity {table['severity']!r}",
                f"use one of: {', '.join(s.value for s in Severity)}",
            )
    rule_groups = _str_list(probs, f"{where}.groups", table.get("groups", [])) or []
    for g in rule_groups:
        _check_group(probs, f"{where}.groups", g, groups)
        if g in alert_only and rtype not in STATELESS_TYPES:
            bad(
                "groups",
                f"group {g!r} is under the alert-only policy, and {rtype.value} needs a location "
                "history that policy forbids",
                f"remove {g!r} from this rule, or from policy.alert_only_groups",
            )
    zones = _str_list(probs, f"{where}.zones", table.get("zones", [])) or []
    for z in zones:
        if z not in zone_ids:
            bad(
                "zones",
                f"unknown zone {z!r}{_close(z, zone_ids)}",
                "use a zone id from the floorplan",
            )
    kinds: list[ZoneKind] = []
    for k in _str_list(probs, f"{where}.kinds", table.get("kinds", [])) or []:
        try:
            kinds.append(ZoneKind(k))
        except ValueError:
            bad(
                "kinds",
                f"unknown zone kind {k!r}{_close(k, [z.value for z in ZoneKind])}",
                f"use one of: {', '.join(z.value for z in ZoneKind)}",
            )
    levels = _str_list(probs, f"{where}.levels", table.get("levels", [])) or []
    for lv in levels:
        if lv not in level_ids:
            bad(
                "levels",
                f"unknown level {lv!r}",
                f"use a level id from the floorplan ({', '.join(sorted(level_ids))})",
            )
    if levels and not kinds:
        bad("levels", "levels only narrow `kinds`", "add kinds = [...] or remove levels")

    after_s = 0.0
    names_zone = "zones" in table or "kinds" in table
    if rtype in (RuleType.RESTRICTED_ZONE, RuleType.DWELL_LIMIT) and not names_zone:
        bad("zones", "the rule names no zone", 'add zones = ["zone-id"] or kinds = ["restricted"]')
    if rtype == RuleType.DWELL_LIMIT:
        if "limit_min" not in table:
            bad("limit_min", "missing", "give the dwell limit in minutes, e.g. limit_min = 10")
        else:
            v = _number(probs, f"{where}.limit_min", table["limit_min"], positive=True)
            ok = ok and v is not None
            after_s = (v or 0.0) * 60.0
    if (
        rtype in (RuleType.NOT_IN_TIMETABLED_ROOM, RuleType.MUSTER_OVERDUE)
        and "after_min" not in table
    ):
        bad("after_min", "missing", "say how many minutes to wait, e.g. after_min = 10")
    if "after_min" in table:
        v = _number(probs, f"{where}.after_min", table["after_min"])
        ok = ok and v is not None
        after_s = (v or 0.0) * 60.0
    if rtype == RuleType.SAFE_AREA_LEFT and not rule_groups:
        bad("groups", "no group must stay inside", 'name the groups, e.g. groups = ["Y7A"]')
    if rtype in TIMETABLE_TYPES and not has_timetable:
        bad(
            "type",
            f"{rtype.value} needs the timetable (school hours, lessons)",
            'add timetable = "timetable.toml" at the top of the rules file',
        )

    max_out = None
    max_out_s = None
    flagged: list[tuple[str, str]] = []
    if rtype == RuleType.HALL_PASS:
        if not rule_groups:
            bad("groups", "a hall-pass rule applies to classes", 'name them, e.g. groups = ["Y7A"]')
        if "max_out" in table:
            v = table["max_out"]
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                bad("max_out", f"must be a whole number >= 0, got {v!r}", "write max_out = 2")
            else:
                max_out = v
        if "max_out_min" in table:
            m = _number(probs, f"{where}.max_out_min", table["max_out_min"], positive=True)
            ok = ok and m is not None
            max_out_s = None if m is None else m * 60.0
        for j, pair in enumerate(table.get("flagged", [])):
            if not (
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
            ):
                bad(
                    f"flagged[{j}]",
                    f"must be a pair of tags, got {pair!r}",
                    'write ["badge-0001", "badge-0002"]',
                )
                continue
            for tag in pair:
                if tags is not None and tag not in tags:
                    bad(f"flagged[{j}]", f"unknown tag {tag!r}", "use tags from the roster")
            flagged.append((pair[0], pair[1]))
        if not any(k in table for k in ("max_out", "max_out_min", "flagged")):
            bad("max_out", "the rule sets no limit", "set max_out, max_out_min or flagged")

    when = table.get("when", "always")
    if when not in WHEN:
        bad("when", f"unknown value {when!r}", f"use one of: {', '.join(sorted(WHEN))}")
    elif when != "always" and not has_timetable:
        bad(
            "when",
            f"when = {when!r} needs the timetable's school hours",
            'add timetable = "timetable.toml" at the top of the rules file',
        )
    message = table.get("message", "")
    if not isinstance(message, str):
        bad("message", "must be a string", 'write message = "..."')
        message = ""
    if not ok:
        return None
    return Rule(
        id=rid,
        type=rtype,
        severity=severity,
        groups=frozenset(rule_groups),
        zones=frozenset(zones),
        kinds=frozenset(kinds),
        levels=frozenset(levels),
        after_s=after_s,
        max_out=max_out,
        flagged=tuple(flagged),
        max_out_s=max_out_s,
        message=message,
        when=str(when),
    )


def _clock(probs: _Problems, key: str, value: Any) -> int | None:
    try:
        return parse_clock(value)
    except ValueError as exc:
        probs.add(key, str(exc), 'write a 24-hour time such as "08:45"')
        return None


def _date_ranges(probs: _Problems, key: str, raw: Any) -> list[DateRange]:
    if not isinstance(raw, list):
        probs.add(key, "must be an array of tables", f"write [[calendar.{key.split('.')[-1]}]]")
        return []
    out = []
    for i, item in enumerate(raw):
        where = f"{key}[{i}]"
        if not isinstance(item, dict):
            probs.add(where, "must be a table", "write first = 2026-09-01 and last = 2026-12-18")
            continue
        _check_keys(probs, where, item, {"name", "first", "last", "date"})
        first = item.get("date", item.get("first"))
        last = item.get("date", item.get("last", first))
        if not isinstance(first, date) or not isinstance(last, date):
            probs.add(
                where,
                "needs dates (first/last, or date)",
                "write first = 2026-09-01 (a bare TOML date)",
            )
            continue
        if last < first:
            probs.add(f"{where}.last", f"{last} is before {first}", "swap first and last")
            continue
        out.append(DateRange(first, last, str(item.get("name", ""))))
    return out


def parse_timetable(
    data: Mapping[str, Any],
    source: str,
    floorplan: Floorplan,
    groups: frozenset[str] | None = None,
) -> LoadedTimetable:
    """Validate a timetable document (a parsed TOML dict) against the floorplan and groups."""
    probs = _Problems(source)
    _check_keys(
        probs,
        "(top level)",
        data,
        {"version", "roster", "calendar", "periods", "lessons", "attendance"},
    )
    if data.get("version", 1) != 1:
        probs.add("version", f"unsupported version {data.get('version')!r}", "write version = 1")
    roster = data.get("roster")
    if roster is not None and not isinstance(roster, str):
        probs.add("roster", "must be a path string", 'write roster = "roster.csv"')
        roster = None

    cal_raw = data.get("calendar")
    school_weekdays: set[int] = set(range(7))
    calendar: SchoolCalendar | None = None
    if not isinstance(cal_raw, dict):
        probs.add("calendar", "missing", 'add [calendar] with timezone = "Europe/London"')
    else:
        _check_keys(
            probs,
            "calendar",
            cal_raw,
            {"timezone", "weekdays", "day_start", "day_end", "terms", "holidays"},
        )
        tz = cal_raw.get("timezone")
        try:
            if not isinstance(tz, str):
                raise ZoneInfoNotFoundError
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            probs.add(
                "calendar.timezone",
                f"unknown time zone {tz!r}",
                'use an IANA name such as "Europe/London"',
            )
            tz = None
        weekdays: set[int] = set()
        for d in (
            _str_list(
                probs,
                "calendar.weekdays",
                cal_raw.get("weekdays", ["mon", "tue", "wed", "thu", "fri"]),
            )
            or []
        ):
            if d.lower()[:3] not in WEEKDAYS:
                probs.add(
                    "calendar.weekdays",
                    f"unknown weekday {d!r}",
                    "use mon, tue, wed, thu, fri, sat, sun",
                )
            else:
                weekdays.add(WEEKDAYS[d.lower()[:3]])
        school_weekdays = weekdays
        start = _clock(probs, "calendar.day_start", cal_raw.get("day_start", "08:00"))
        end = _clock(probs, "calendar.day_end", cal_raw.get("day_end", "16:00"))
        if start is not None and end is not None and end <= start:
            probs.add(
                "calendar.day_end",
                f"the school day ends ({format_clock(end)}) "
                f"before it starts ({format_clock(start)})",
                "make day_end later than day_start",
            )
            start = end = None
        terms = _date_ranges(probs, "calendar.terms", cal_raw.get("terms", []))
        holidays = _date_ranges(probs, "calendar.holidays", cal_raw.get("holidays", []))
        if tz is not None and start is not None and end is not None:
            calendar = SchoolCalendar(
                tz, frozenset(weekdays), start, end, tuple(terms), tuple(holidays)
            )

    periods: list[Period] = []
    raw_periods = data.get("periods", {})
    if not isinstance(raw_periods, dict) or not raw_periods:
        probs.add(
            "periods",
            "missing or empty",
            'add [periods] with P1 = { start = "09:00", end = "10:00" }',
        )
        raw_periods = {}
    for pid, spec in raw_periods.items():
        key = f"periods.{pid}"
        if not isinstance(spec, dict):
            probs.add(key, "must be a table", f'write {pid} = {{ start = "09:00", end = "10:00" }}')
            continue
        _check_keys(probs, key, spec, {"start", "end", "name"})
        s = _clock(probs, f"{key}.start", spec.get("start"))
        e = _clock(probs, f"{key}.end", spec.get("end"))
        if s is None or e is None:
            continue
        if e <= s:
            probs.add(
                f"{key}.end",
                f"the period ends ({format_clock(e)}) before it starts ({format_clock(s)})",
                "make end later than start",
            )
            continue
        periods.append(Period(pid, s, e, str(spec.get("name", pid))))
    ordered = sorted(periods, key=lambda p: p.start_min)
    for a, b in pairwise(ordered):
        if b.start_min < a.end_min:
            probs.add(
                f"periods.{b.id}.start",
                f"period {b.id} ({format_clock(b.start_min)}-{format_clock(b.end_min)}) overlaps "
                f"period {a.id} ({format_clock(a.start_min)}-{format_clock(a.end_min)})",
                f"start {b.id} at {format_clock(a.end_min)} or later, or end {a.id} earlier",
            )
    period_ids = {p.id for p in periods} | set(raw_periods)

    zone_ids = {z.id for z in floorplan.zones}
    lessons: list[Lesson] = []
    slots: dict[tuple[str, str, int], int] = {}  # (group, period, weekday) -> lesson index
    rooms: dict[tuple[str, str, int], tuple[int, str]] = {}  # (room, period, weekday) -> lesson
    for i, where, item in _array_of_tables(probs, data, "lessons", "lesson"):
        _check_keys(probs, where, item, {"group", "period", "room", "days", "subject"})
        group, period, room = item.get("group"), item.get("period"), item.get("room")
        good = True
        if not isinstance(group, str) or not group:
            probs.add(f"{where}.group", "missing", 'name the class, e.g. group = "Y7A"')
            good = False
        else:
            before = len(probs.lines)
            _check_group(probs, f"{where}.group", group, groups)
            good = good and len(probs.lines) == before
        if not isinstance(period, str) or period not in period_ids:
            probs.add(
                f"{where}.period",
                f"unknown period {period!r}",
                f"use one of the [periods]: {', '.join(sorted(period_ids)) or 'none defined'}",
            )
            good = False
        if not isinstance(room, str) or room not in zone_ids:
            probs.add(
                f"{where}.room",
                f"unknown zone {room!r}{_close(str(room), zone_ids)}",
                "use a zone id from the floorplan",
            )
            good = False
        days: set[int] = set()
        for d in _str_list(probs, f"{where}.days", item.get("days", [])) or []:
            if d.lower()[:3] not in WEEKDAYS:
                probs.add(
                    f"{where}.days",
                    f"unknown weekday {d!r}",
                    "use mon, tue, wed, thu, fri, sat, sun",
                )
                good = False
            elif WEEKDAYS[d.lower()[:3]] not in school_weekdays:
                probs.add(
                    f"{where}.days",
                    f"{d!r} is not a school day in calendar.weekdays",
                    "remove it, or add it to calendar.weekdays",
                )
                good = False
            else:
                days.add(WEEKDAYS[d.lower()[:3]])
        if not good:
            continue
        assert isinstance(group, str) and isinstance(period, str) and isinstance(room, str)
        for wd in sorted(days) or list(range(7)):
            other = slots.get((group, period, wd))
            if other is not None:
                probs.add(
                    where,
                    f"group {group} already has lessons[{other}] in period {period} on that day",
                    "give the lessons distinct days, or remove one",
                )
                break
        for wd in sorted(days) or list(range(7)):
            booked = rooms.get((room, period, wd))
            if booked is not None and booked[1] != group:
                probs.add(
                    f"{where}.room",
                    f"{room} is already booked by group {booked[1]} (lessons[{booked[0]}]) "
                    f"in period {period} on that day",
                    "move one of the lessons to another room or period",
                )
                break
        for wd in sorted(days) or list(range(7)):
            slots.setdefault((group, period, wd), i)
            rooms.setdefault((room, period, wd), (i, group))
        if period in {p.id for p in periods}:
            lessons.append(
                Lesson(group, period, room, frozenset(days), str(item.get("subject", "")))
            )

    policy = AttendancePolicy()
    raw_att = data.get("attendance", {})
    if isinstance(raw_att, dict):
        _check_keys(
            probs, "attendance", raw_att, {"late_after_min", "min_present_min", "early_leave_min"}
        )
        values = {}
        for k, field_name in (
            ("late_after_min", "late_after_s"),
            ("min_present_min", "min_present_s"),
            ("early_leave_min", "early_leave_s"),
        ):
            if k in raw_att:
                v = _number(probs, f"attendance.{k}", raw_att[k])
                if v is not None:
                    values[field_name] = v * 60.0
        policy = AttendancePolicy(**values)
    else:
        probs.add("attendance", "must be a table", "write [attendance] with late_after_min = 5")

    probs.raise_if_any("timetable")
    assert calendar is not None
    return LoadedTimetable(Timetable(calendar, tuple(periods), tuple(lessons)), policy, roster)


def _resolve(base: Path, ref: str | None) -> str | None:
    if ref is None:
        return None
    p = Path(ref)
    return str(p if p.is_absolute() else base.parent / p)


def load_rules(
    path: str | Path,
    floorplan: Floorplan,
    roster: Roster | None = None,
    has_timetable: bool | None = None,
) -> LoadedRules:
    """Read and validate a rules file; a named timetable path is resolved beside it."""
    data = _read_toml(path)
    groups = roster.groups if roster is not None else None
    tags = roster.tags if roster is not None else None
    loaded = parse_rules(data, str(path), floorplan, groups, tags, has_timetable)
    return LoadedRules(loaded.config, _resolve(Path(path), loaded.timetable))


def load_timetable(
    path: str | Path, floorplan: Floorplan, roster: Roster | None = None
) -> LoadedTimetable:
    """Read and validate a timetable file; a named roster path is resolved beside it."""
    data = _read_toml(path)
    loaded = parse_timetable(data, str(path), floorplan, roster.groups if roster else None)
    return LoadedTimetable(loaded.timetable, loaded.policy, _resolve(Path(path), loaded.roster))


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
