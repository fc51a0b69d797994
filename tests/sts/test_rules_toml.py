"""Rules, timetable and roster validation: every problem names the file, the key and the fix."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.events import Severity
from engine.rules import RuleType
from geometry.errors import ConfigError, InputError
from geometry.model import ZoneKind
from sts.roster_csv import parse_roster
from sts.rules_toml import load_rules, parse_rules
from sts.timetable_toml import load_timetable, parse_timetable
from tests.engine.small_world import floorplan

GROUPS = frozenset({"7A", "8B", "staff"})
TAGS = frozenset({"s1", "s2", "s3", "s4", "b1", "staff1"})

GOOD_RULES = """
version = 1
timetable = "timetable.toml"

[alerts]
cooldown_min = 10

[policy]
alert_only_groups = ["staff"]

[[rules]]
id = "restricted"
type = "restricted_zone"
kinds = ["restricted"]

[[rules]]
id = "roof-staff"
type = "restricted_zone"
zones = ["roof"]
groups = ["staff"]

[[rules]]
id = "stay-inside"
type = "safe_area_left"
groups = ["7A"]
after_min = 1

[[rules]]
id = "restroom"
type = "dwell_limit"
kinds = ["restroom"]
levels = ["L0"]
limit_min = 10
severity = "info"

[[rules]]
id = "in-class"
type = "not_in_timetabled_room"
after_min = 10

[[rules]]
id = "lost"
type = "badge_lost"

[[rules]]
id = "muster"
type = "muster_overdue"
after_min = 5

[[rules]]
id = "hall-pass"
type = "hall_pass"
groups = ["7A"]
max_out = 2
max_out_min = 8
flagged = [["s3", "s4"]]
"""

GOOD_TIMETABLE = """
version = 1
roster = "roster.csv"

[calendar]
timezone = "Europe/London"
weekdays = ["mon", "tue", "wed", "thu", "fri"]
day_start = "08:30"
day_end = "15:30"
terms = [{ name = "autumn", first = 2026-09-02, last = 2026-12-18 }]
holidays = [{ name = "inset day", date = 2026-11-20 }]

[periods]
P1 = { start = "09:00", end = "10:00" }
P2 = { start = "10:00", end = "11:00", name = "Period 2" }

[attendance]
late_after_min = 5
min_present_min = 10

[[lessons]]
group = "7A"
period = "P1"
room = "room-a"

[[lessons]]
group = "7A"
period = "P2"
room = "room-b"
days = ["mon", "wed"]
"""


def rules_problem(doc: str, **kw: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse_rules(tomllib.loads(doc), "rules.toml", floorplan(), GROUPS, TAGS, **kw)
    return str(info.value)


def tt_problem(doc: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_timetable(tomllib.loads(doc), "timetable.toml", floorplan(), GROUPS)
    return str(info.value)


def test_good_rules_parse_into_every_type() -> None:
    loaded = parse_rules(tomllib.loads(GOOD_RULES), "rules.toml", floorplan(), GROUPS, TAGS)
    cfg = loaded.config
    assert loaded.timetable == "timetable.toml"
    assert cfg.cooldown_s == 600.0 and cfg.alert_only_groups == {"staff"}
    assert {r.type for r in cfg.rules} == set(RuleType)
    by_id = {r.id: r for r in cfg.rules}
    assert by_id["restricted"].severity == Severity.CRITICAL
    assert by_id["restricted"].kinds == {ZoneKind.RESTRICTED}
    assert by_id["restroom"].after_s == 600.0 and by_id["restroom"].severity == Severity.INFO
    assert by_id["stay-inside"].after_s == 60.0
    hp = by_id["hall-pass"]
    assert (hp.max_out, hp.max_out_s, hp.flagged) == (2, 480.0, (("s3", "s4"),))


def test_zone_hysteresis_per_kind_and_a_rule_cooldown_are_read() -> None:
    doc = (
        '[[zone_hysteresis]]\nkinds = ["restricted"]\ndwell_s = 0\nband_m = 1.0\n'
        '[[rules]]\nid = "r"\ntype = "restricted_zone"\nkinds = ["restricted"]\n'
        "cooldown_min = 0\n"
    )
    loaded = parse_rules(tomllib.loads(doc), "rules.toml", floorplan(), GROUPS, TAGS)
    [fast] = loaded.zone_hysteresis
    assert (fast.kinds, fast.dwell_s, fast.band_m) == ({"restricted"}, 0.0, 1.0)
    no_band = tomllib.loads('[[zone_hysteresis]]\nkinds = ["restricted"]\ndwell_s = 1\n')
    [own_dwell] = parse_rules(no_band, "rules.toml", floorplan()).zone_hysteresis
    assert own_dwell.band_m == float("inf")
    assert own_dwell.max_uncertainty_m == float("inf")
    assert loaded.config.rules[0].cooldown_s == 0.0
    limited = tomllib.loads(
        '[[zone_hysteresis]]\nkinds = ["restricted"]\ndwell_s = 1\nmax_uncertainty_m = 3.5\n'
    )
    [sure] = parse_rules(limited, "rules.toml", floorplan()).zone_hysteresis
    assert (sure.band_m, sure.max_uncertainty_m) == (float("inf"), 3.5)
    assert sure.uncertain_dwell_s is None  # the engine's dwell
    slow = tomllib.loads(
        '[[zone_hysteresis]]\nkinds = ["staff_only"]\ndwell_s = 3\nmax_uncertainty_m = 4\n'
        "uncertain_dwell_s = 30\n"
    )
    [staff] = parse_rules(slow, "rules.toml", floorplan()).zone_hysteresis
    assert (staff.max_uncertainty_m, staff.uncertain_dwell_s) == (4.0, 30.0)


@pytest.mark.parametrize(
    ("body", "key", "fix"),
    [
        ('kinds = ["boiler"]\ndwell_s = 0\nband_m = 1', "zone_hysteresis[0].kinds", "restricted"),
        ("kinds = []\ndwell_s = 0\nband_m = 1", "zone_hysteresis[0].kinds", "kinds = ["),
        ('kinds = ["restricted"]\nband_m = 1', "zone_hysteresis[0].dwell_s", "dwell_s = 5"),
        ('kinds = ["restricted"]\ndwell_s = 0\nband_m = -1', ".band_m", "band_m"),
        ('kinds = ["restricted"]\ndwell_s = 1\nmax_uncertainty_m = "3"', ".max_unc", "max_unc"),
        ('kinds = ["staff_only"]\ndwell_s = 3\nuncertain_dwell_s = -1', ".uncertain_d", "uncer"),
        ('kinds = ["restricted"]\ndwell_s = 0\nband_m = 1\nmargin = 2', ".margin", "band_m"),
    ],
)
def test_each_zone_hysteresis_problem_names_the_key_and_the_fix(
    body: str, key: str, fix: str
) -> None:
    msg = rules_problem("[[zone_hysteresis]]\n" + body + "\n")
    [line] = [ln for ln in msg.splitlines()[1:] if key in ln]
    assert "Fix:" in line and fix in line.split("Fix:")[1]


RULE_HEAD = 'timetable = "t.toml"\n[[rules]]\nid = "r"\n'


@pytest.mark.parametrize(
    ("body", "key", "fix"),
    [
        ('type = "restricted_zone"\nzones = ["boiler-rm"]', 'rules[0] (id "r").zones', "zone id"),
        ('type = "restricted_zone"\nkinds = ["restricted_area"]', ".kinds", "use one of"),
        (
            'type = "restricted_zone"\nkinds = ["restricted"]\nlevels = ["L9"]',
            ".levels",
            "level id",
        ),
        ('type = "restricted_zone"\nkinds = ["restricted"]\ngroups = ["9Z"]', ".groups", "roster"),
        ('type = "restricted_zone"', ".zones", "add zones"),
        (
            'type = "restricted_zone"\nzones = ["boiler"]\nseverity = "high"',
            ".severity",
            "critical",
        ),
        ('type = "geofence"', ".type", "use one of: restricted_zone"),
        ('type = "dwell_limit"\nkinds = ["restroom"]', ".limit_min", "limit_min = 10"),
        (
            'type = "dwell_limit"\nkinds = ["restroom"]\nlimit_min = -3',
            ".limit_min",
            "greater than 0",
        ),
        ('type = "dwell_limit"\nkinds = ["restroom"]\nlimit_min = "ten"', ".limit_min", "= 5"),
        ('type = "safe_area_left"', ".groups", "groups ="),
        ('type = "muster_overdue"', ".after_min", "after_min = 10"),
        ('type = "hall_pass"\ngroups = ["7A"]', ".max_out", "set max_out"),
        ('type = "hall_pass"\ngroups = ["7A"]\nflagged = [["s1", "zz"]]', ".flagged[0]", "roster"),
        ('type = "hall_pass"\ngroups = ["7A"]\nmax_out = 1.5', ".max_out", "max_out = 2"),
        ('type = "badge_lost"\nzone = "boiler"', ".zone", "allowed here"),
        ('type = "badge_lost"\nwhen = "weekends"', ".when", "school_hours"),
        (
            'type = "dwell_limit"\nkinds = ["restroom"]\nlimit_min = 5\ngroups = ["staff"]',
            ".groups",
            "alert_only",
        ),
    ],
)
def test_each_rule_problem_names_the_key_and_the_fix(body: str, key: str, fix: str) -> None:
    doc = RULE_HEAD + body + '\n[policy]\nalert_only_groups = ["staff"]\n'
    msg = rules_problem(doc)
    assert msg.startswith("rules.toml: ")
    [line] = [ln for ln in msg.splitlines()[1:] if key in ln]
    assert "Fix:" in line and fix in line.split("Fix:")[1]


def test_timetable_rules_without_timetable_and_every_problem_at_once() -> None:
    doc = '[[rules]]\nid = "a"\ntype = "safe_area_left"\ngroups = ["7A"]\n'
    doc += '[[rules]]\nid = "a"\ntype = "restricted_zone"\nzones = ["nowhere"]\n'
    msg = rules_problem(doc)
    assert "3 problem(s)" in msg
    assert 'rules[0] (id "a").type' in msg and 'timetable = "timetable.toml"' in msg
    assert "duplicate rule id" in msg and "unknown zone 'nowhere'" in msg


def test_close_names_are_suggested() -> None:
    msg = rules_problem(RULE_HEAD + 'type = "restricted_zone"\nzones = ["boiler-room"]\n')
    assert 'did you mean "boiler"' in msg


def test_good_timetable() -> None:
    loaded = parse_timetable(tomllib.loads(GOOD_TIMETABLE), "timetable.toml", floorplan(), GROUPS)
    tt = loaded.timetable
    assert tt.calendar.timezone == "Europe/London" and tt.calendar.day_start_min == 510
    assert not tt.calendar.is_school_day(date(2026, 11, 20))
    assert [p.id for p in tt.periods] == ["P1", "P2"] and tt.periods[1].name == "Period 2"
    assert tt.lessons[1].days == {0, 2}
    assert loaded.policy.late_after_s == 300.0 and loaded.policy.min_present_s == 600.0
    assert loaded.roster == "roster.csv"


@pytest.mark.parametrize(
    ("old", "new", "key", "fix"),
    [
        (
            'P2 = { start = "10:00"',
            'P2 = { start = "09:30"',
            "periods.P2.start",
            "start P2 at 10:00",
        ),
        ('end = "10:00" }', 'end = "25:00" }', "periods.P1.end", "24-hour time"),
        (
            'P1 = { start = "09:00", end = "10:00" }',
            'P1 = { start = "10:00", end = "09:00" }',
            "periods.P1.end",
            "later than start",
        ),
        ('room = "room-a"', 'room = "room-z"', "lessons[0].room", "zone id"),
        (
            'group = "7A"\nperiod = "P1"',
            'group = "7Z"\nperiod = "P1"',
            "lessons[0].group",
            "roster",
        ),
        ('period = "P1"', 'period = "P9"', "lessons[0].period", "P1, P2"),
        ('"Europe/London"', '"Europe/Narnia"', "calendar.timezone", "IANA"),
        ('day_end = "15:30"', 'day_end = "07:00"', "calendar.day_end", "later than day_start"),
        ('weekdays = ["mon"', 'weekdays = ["monday", "funday"', "calendar.weekdays", "mon, tue"),
        ("last = 2026-12-18", "last = 2026-08-18", "calendar.terms[0].last", "swap"),
        ("late_after_min = 5", "late_after_min = -5", "attendance.late_after_min", "at least 0"),
        (
            'days = ["mon", "wed"]',
            'days = ["mon", "wed"]\nteacher = "x"',
            "lessons[1].teacher",
            "allowed here",
        ),
        ('days = ["mon", "wed"]', 'days = ["mon", "sat"]', "lessons[1].days", "calendar.weekdays"),
    ],
)
def test_each_timetable_problem_names_the_key_and_the_fix(
    old: str, new: str, key: str, fix: str
) -> None:
    assert old in GOOD_TIMETABLE
    msg = tt_problem(GOOD_TIMETABLE.replace(old, new, 1))
    assert msg.startswith("timetable.toml: ")
    [line] = [ln for ln in msg.splitlines()[1:] if key in ln]
    assert fix in line.split("Fix:")[1]


def test_double_booked_group_is_refused() -> None:
    doc = GOOD_TIMETABLE + '\n[[lessons]]\ngroup = "7A"\nperiod = "P1"\nroom = "room-b"\n'
    assert "already has lessons[0] in period P1" in tt_problem(doc)


def test_room_booked_twice_is_refused() -> None:
    doc = GOOD_TIMETABLE + '\n[[lessons]]\ngroup = "8B"\nperiod = "P1"\nroom = "room-a"\n'
    msg = tt_problem(doc)
    assert "lessons[2].room: room-a is already booked by group 7A (lessons[0])" in msg


def test_files_resolve_relative_paths_and_bad_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "rules.toml").write_text(GOOD_RULES)
    (tmp_path / "timetable.toml").write_text(GOOD_TIMETABLE)
    loaded = load_rules(tmp_path / "rules.toml", floorplan())
    assert loaded.timetable == str(tmp_path / "timetable.toml")
    assert load_timetable(tmp_path / "timetable.toml", floorplan()).roster == str(
        tmp_path / "roster.csv"
    )
    (tmp_path / "broken.toml").write_text("[[rules]\nid=")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_rules(tmp_path / "broken.toml", floorplan())


def test_roster() -> None:
    roster = parse_roster(
        [
            "student_id,tag,name,group,consent",
            "S1,s1,Ada,7A,granted",
            'S2,s2,"Lee, Sam",7A,withdrawn',
            "T1,staff1,Mr Lee,staff,granted",
        ],
        "roster.csv",
    )
    assert roster.members() == {"7A": ["s1"], "staff": ["staff1"]}
    assert roster.tag_groups(consented_only=False)["s2"] == "7A"
    assert roster.groups == {"7A", "staff"}
    with pytest.raises(InputError, match=r"roster\.csv: line 1: the header"):
        parse_roster(["id,tag"], "roster.csv")
    with pytest.raises(InputError, match="line 3: tag 's1' already on line 2"):
        parse_roster(
            ["student_id,tag,name,group,consent", "S1,s1,A,7A,granted", "S2,s1,B,7A,granted"],
            "roster.csv",
        )


def problem_keys(msg: str) -> list[str]:
    """The key each problem line names, in the order the lines are listed."""
    return [line.strip().split(": ", 1)[0] for line in msg.splitlines()[1:]]


def test_the_problems_of_rules_are_listed_in_the_order_of_the_checks() -> None:
    doc = RULE_HEAD + (
        'type = "dwell_limit"\nseverity = "high"\ngroups = ["staff", "9Z"]\n'
        'zones = ["nowhere"]\nkinds = ["bogus"]\nlevels = ["L9"]\nlimit_min = 0\n'
        'after_min = "x"\nwhen = "weekends"\nmessage = 3\n'
        '[[rules]]\nid = "hp"\ntype = "hall_pass"\nmax_out = -1\nmax_out_min = 0\n'
        'flagged = [["s1"], ["s1", "zz"]]\n'
        '[policy]\nalert_only_groups = ["staff"]\n'
    )
    r, hp = 'rules[0] (id "r").', 'rules[1] (id "hp").'
    assert problem_keys(rules_problem(doc)) == [
        *(r + key for key in ("after_min", "severity", "groups", "groups", "zones", "kinds")),
        *(r + key for key in ("levels", "levels", "limit_min", "after_min", "when", "message")),
        *(hp + key for key in ("groups", "max_out", "max_out_min", "flagged[0]", "flagged[1]")),
    ]


def test_the_problems_of_a_timetable_are_listed_in_the_order_of_the_checks() -> None:
    doc = """version = 2
roster = 3
[calendar]
timezone = "Europe/Narnia"
weekdays = ["mon", "funday"]
day_start = "09:00"
day_end = "08:00"
terms = [{ first = 2026-09-01, last = 2026-08-01 }]
[periods]
P1 = { start = "09:00", end = "10:00" }
P2 = { start = "09:30", end = "10:30" }
P3 = { start = "11:00", end = "10:00" }
[[lessons]]
group = "7A"
period = "P1"
room = "room-a"
[[lessons]]
group = "7A"
period = "P1"
room = "room-b"
days = 4
[[lessons]]
group = "8B"
period = "P1"
room = "room-a"
days = ["mon", "tue"]
[[lessons]]
group = "9Z"
period = "P3"
room = "room-z"
[attendance]
late_after_min = -5
"""
    msg = tt_problem(doc)
    assert problem_keys(msg) == [
        "version",
        "roster",
        "calendar.timezone",
        "calendar.weekdays",
        "calendar.day_end",
        "calendar.terms[0].last",
        "periods.P3.end",
        "periods.P2.start",
        "lessons[1].days",
        "lessons[1]",  # malformed days leave the lesson on every day, so it still clashes
        "lessons[2].days",
        "lessons[3].group",
        "lessons[3].room",  # P3 is named though malformed, so it is not an unknown period
        "attendance.late_after_min",
    ]
    assert "group 7A already has lessons[0] in period P1" in msg


@pytest.mark.parametrize("line", ['when = ["x"]', "flagged = 3", "when = 5"])
def test_values_of_the_wrong_type_are_problems_not_tracebacks(line: str) -> None:
    text = f'version = 1\n[[rules]]\nid = "h"\ntype = "hall_pass"\nmax_out = 1\n{line}\n'
    with pytest.raises(ConfigError, match=line.split(" ")[0]):
        parse_rules(tomllib.loads(text), "rules.toml", floorplan())
