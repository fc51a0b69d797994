"""Scenarios: a simulated day as validated TOML (who, how many, how they behave, what happens).

    version = 1
    name = "Northfield: a school day"
    campus = ".."                 # the campus folder, relative to this file
    date = 2026-11-30             # a school day of the campus calendar
    start = "08:10"               # local time
    duration_min = 420
    seed = 2026

    [population]                  # defaults in PopulationSpec
    students = 300                # default: the roster's students
    [behaviour]                   # rates, defaults in BehaviourSpec
    restricted_per_day = 0.05
    [evacuation]
    mode = "drill"
    [survey]                      # a site survey: staff stand at spots in every zone
    stop_s = 30
    [radio]                       # any field of simulator.radio.RadioParams
    sigma_db = 6.0
    [[events]]
    at = "10:42"
    type = "fire_alarm"           # fire_alarm, all_clear, reader_failure, reader_recovery
    [[events]]
    at = "09:10"
    type = "reader_failure"
    reader = "rd-L0-corridor-a-3"

Every problem is reported at once with the key and the fix (`ConfigError`). Parsing is
pure (`parse_scenario` takes the TOML document); `load_scenario` reads the file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geometry.errors import ConfigError
from simulator.radio import RadioParams

EVENT_TYPES = frozenset({"fire_alarm", "all_clear", "reader_failure", "reader_recovery"})
ROLL_MODES = frozenset({"live", "drill", "test"})
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


@dataclass(frozen=True, slots=True)
class PopulationSpec:
    """Who is in school: counts, speeds and badge health (rates are fractions of people)."""

    students: int | None = None  # None: the roster's students (or 30 per group without one)
    staff: int | None = None  # None: the roster's staff (or 1 per 15 students)
    groups: tuple[str, ...] = ()  # empty: the timetable's groups
    absent_rate: float = 0.03
    late_rate: float = 0.04
    dead_badge_rate: float = 0.005  # a badge whose battery is flat: never heard
    locker_badge_rate: float = 0.005  # a badge left in a locker: heard where it lies
    speed_mps: tuple[float, float] = (1.0, 1.4)  # walking speed, uniform in this range
    entrance: str = ""  # the opening people arrive through; default: the first street exit


@dataclass(frozen=True, slots=True)
class BehaviourSpec:
    """What students do besides their timetable, as rates."""

    restroom_per_hour: float = 0.15  # visits per student per lesson hour
    restroom_min: tuple[float, float] = (2.0, 8.0)
    long_restroom_rate: float = 0.05  # share of visits that last 12-20 min
    restricted_per_day: float = 0.01  # visits to a restricted zone per student per day
    restricted_min: tuple[float, float] = (1.0, 4.0)
    leave_safe_area_per_day: float = 0.005  # walks beyond the safe area per student per day
    leave_min: tuple[float, float] = (3.0, 10.0)
    staff_only_per_day: float = 0.0  # visits to a staff-only zone per student per day
    staff_only_min: tuple[float, float] = (1.0, 6.0)


@dataclass(frozen=True, slots=True)
class SurveySpec:
    """A site survey: staff walk every walkable zone instead of their day (`stop_s` 0: off)."""

    stop_s: float = 0.0  # how long a surveyor stands at each spot
    stops_per_zone: int = 3  # spots per zone, drawn at random inside it
    walk_allowance_s: float = 10.0  # time allowed per stop for doors, stairs and queues


@dataclass(frozen=True, slots=True)
class EvacuationSpec:
    """How people evacuate when the fire alarm sounds."""

    mode: str = "drill"  # the roll call's mode: live, drill or test
    pre_movement_s: float = 30.0  # median delay before people start moving (lognormal)
    pre_movement_spread: float = 0.5  # sigma of the log of that delay
    straggler_rate: float = 0.01  # people who stay where they are


@dataclass(frozen=True, slots=True)
class ScenarioEvent:
    """Something that happens at a local time of the scenario's day."""

    at_s: float  # seconds after local midnight
    type: str
    reader: str = ""


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario."""

    name: str
    campus: Path
    date: dt.date
    start_s: float  # seconds after local midnight
    duration_s: float
    seed: int
    timezone: str = ""  # empty: the campus timetable's (UTC without one)
    tick_s: float = 1.0
    population: PopulationSpec = field(default_factory=PopulationSpec)
    behaviour: BehaviourSpec = field(default_factory=BehaviourSpec)
    evacuation: EvacuationSpec = field(default_factory=EvacuationSpec)
    survey: SurveySpec = field(default_factory=SurveySpec)
    radio: RadioParams = field(default_factory=RadioParams)
    events: tuple[ScenarioEvent, ...] = ()
    source: str = ""

    def with_overrides(
        self,
        *,
        students: int | None = None,
        duration_s: float | None = None,
        seed: int | None = None,
    ) -> Scenario:
        """The scenario with `--students`, `--duration` and `--seed` applied."""
        out = self
        if students is not None:
            out = dataclasses.replace(
                out, population=dataclasses.replace(out.population, students=students)
            )
        if duration_s is not None:
            out = dataclasses.replace(out, duration_s=float(duration_s))
        if seed is not None:
            out = dataclasses.replace(out, seed=seed)
        return out


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def add(self, key: str, message: str, fix: str) -> None:
        self.lines.append(f"{key}: {message}. Fix: {fix}")

    def raise_if_any(self) -> None:
        if self.lines:
            head = f"{self.source}: {len(self.lines)} problem(s) in the scenario"
            raise ConfigError("\n  ".join([head, *self.lines]))


def clock_seconds(text: object) -> float | None:
    """Seconds after midnight of "HH:MM" or "HH:MM:SS" (None if it is not one)."""
    m = _CLOCK.match(text.strip()) if isinstance(text, str) else None
    if m is None:
        return None
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if h > 23 or mi > 59 or s > 59:
        return None
    return float(h * 3600 + mi * 60 + s)


def _spec(probs: _Problems, key: str, raw: Any, cls: type[Any]) -> Any:
    """A frozen spec dataclass from a TOML table: known keys only, numbers where numbers go."""
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        probs.add(key, "must be a table", f"write [{key}] with key = value lines")
        return cls()
    known = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in known:
            probs.add(f"{key}.{name}", "unknown key", f"use one of {', '.join(sorted(known))}")
            continue
        default = getattr(cls(), name)
        checked = _value(probs, f"{key}.{name}", value, default)
        if checked is not None:
            values[name] = checked
    return cls(**values)


def _value(probs: _Problems, key: str, value: Any, default: Any) -> Any:
    """`value` checked against the type of the field's default."""
    if isinstance(default, tuple) and default and isinstance(default[0], float):
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and all(_is_number(v) and v >= 0 for v in value)
        )
        if not ok or value[0] > value[1]:
            probs.add(
                key,
                f"must be [low, high] numbers, got {value!r}",
                f"write {key.split('.')[-1]} = [1.0, 2.0]",
            )
            return None
        return (float(value[0]), float(value[1]))
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            probs.add(key, f"must be a list of strings, got {value!r}", 'write ["a", "b"]')
            return None
        return tuple(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            probs.add(key, f"must be a string, got {value!r}", 'write it in quotes, "like this"')
            return None
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            probs.add(key, f"must be true or false, got {value!r}", "write true or false")
            return None
        return value
    if default is None or isinstance(default, int | float):
        whole = default is None or isinstance(default, int)
        signed = key.endswith(("_dbm", "rssi_1m"))  # levels in dBm are negative
        if (
            not _is_number(value)
            or (whole and not isinstance(value, int))
            or (value < 0 and not signed)
        ):
            kind = "a whole number" if whole else "a number"
            probs.add(
                key,
                f"must be {kind}{'' if signed else ' at least 0'}, got {value!r}",
                f"write {key.split('.')[-1]} = 10",
            )
            return None
        if key.endswith("_rate") and value > 1:
            probs.add(key, f"is a fraction, got {value!r}", "give a number from 0 to 1")
            return None
        return value if whole else float(value)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _events(probs: _Problems, raw: Any) -> tuple[ScenarioEvent, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        probs.add("events", "must be an array of tables", "write each event under [[events]]")
        return ()
    out = []
    for i, table in enumerate(raw):
        key = f"events[{i}]"
        if not isinstance(table, dict):
            probs.add(key, "must be a table", "write each event under [[events]]")
            continue
        extra = set(table) - {"at", "type", "reader"}
        if extra:
            probs.add(f"{key}.{sorted(extra)[0]}", "unknown key", "use at, type and reader")
        at = clock_seconds(table.get("at"))
        if at is None:
            probs.add(f"{key}.at", f"not a time: {table.get('at')!r}", 'write at = "10:42"')
        kind = table.get("type")
        if kind not in EVENT_TYPES:
            probs.add(
                f"{key}.type",
                f"unknown event type {kind!r}",
                f"use one of {', '.join(sorted(EVENT_TYPES))}",
            )
        reader = table.get("reader", "")
        if kind in ("reader_failure", "reader_recovery") and not (
            isinstance(reader, str) and reader
        ):
            probs.add(
                f"{key}.reader", "a reader event must name its reader", 'write reader = "rd-..."'
            )
        if at is not None and kind in EVENT_TYPES:
            out.append(ScenarioEvent(at, str(kind), str(reader)))
    return tuple(sorted(out, key=lambda e: e.at_s))


TOP_KEYS = {
    "version",
    "name",
    "campus",
    "date",
    "start",
    "duration_min",
    "seed",
    "timezone",
    "tick_s",
    "population",
    "behaviour",
    "evacuation",
    "survey",
    "radio",
    "events",
}


def parse_scenario(data: dict[str, Any], source: str, base: Path) -> Scenario:
    """Validate a parsed scenario document; `base` is the folder `campus` is relative to."""
    probs = _Problems(source)
    for k in sorted(set(data) - TOP_KEYS):
        probs.add(k, "unknown key", f"use one of {', '.join(sorted(TOP_KEYS))}")
    if data.get("version") != 1:
        probs.add("version", f"must be 1, got {data.get('version')!r}", "write version = 1")
    day = data.get("date")
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        probs.add("date", f"must be a date, got {day!r}", "write date = 2026-11-30 (no quotes)")
        day = dt.date(2026, 11, 30)
    start = clock_seconds(data.get("start", "08:00"))
    if start is None:
        probs.add("start", f"not a time: {data.get('start')!r}", 'write start = "08:10"')
    duration = data.get("duration_min", 60)
    if not _is_number(duration) or duration <= 0:
        probs.add(
            "duration_min",
            f"must be a positive number, got {duration!r}",
            "write duration_min = 60",
        )
        duration = 60
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        probs.add("seed", f"must be a whole number at least 0, got {seed!r}", "write seed = 1")
        seed = 0
    campus = data.get("campus", "..")
    if not isinstance(campus, str):
        probs.add("campus", "must be a path", 'write campus = ".."')
        campus = ".."
    radio = _spec(probs, "radio", data.get("radio"), RadioParams)
    scenario = Scenario(
        name=str(data.get("name", Path(source).stem)),
        campus=(base / campus).resolve(),
        date=day,
        start_s=start or 0.0,
        duration_s=float(duration) * 60.0,
        seed=seed,
        timezone=str(data.get("timezone", "")),
        tick_s=float(data.get("tick_s", 1.0)),
        population=_spec(probs, "population", data.get("population"), PopulationSpec),
        behaviour=_spec(probs, "behaviour", data.get("behaviour"), BehaviourSpec),
        evacuation=_spec(probs, "evacuation", data.get("evacuation"), EvacuationSpec),
        survey=_spec(probs, "survey", data.get("survey"), SurveySpec),
        radio=radio,
        events=_events(probs, data.get("events")),
        source=source,
    )
    if scenario.evacuation.mode not in ROLL_MODES:
        probs.add(
            "evacuation.mode",
            f"unknown mode {scenario.evacuation.mode!r}",
            "use live, drill or test",
        )
    probs.raise_if_any()
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc}); fix the syntax at that line") from None
    return parse_scenario(data, str(p), p.resolve().parent)
