"""The simulated population: students in groups and staff, with speeds and badge health.

The campus roster comes first (its tags, groups and consent, in file order); more
students than the roster holds get generated tags (`sim-00042`) spread over the groups
in turn, fewer take the first ones of each group in turn. Every random choice comes from
the seed, so the same scenario gives the same people.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from engine.roster import Roster, RosterEntry
from simulator.scenario import PopulationSpec

STAFF_GROUP = "staff"
GROUP_SIZE = 30  # students per generated group when the campus has no timetable


class Badge(StrEnum):
    """What a badge does all day."""

    OK = "ok"
    DEAD = "dead"  # flat battery: never heard
    LOCKER = "locker"  # left where its wearer first sat down


@dataclass(frozen=True, slots=True)
class Person:
    """One badge holder of the simulation."""

    tag: str
    group: str
    consent: bool
    speed_mps: float
    absent: bool = False
    late_s: float = 0.0  # how late they arrive (0: on time)
    badge: Badge = Badge.OK

    @property
    def staff(self) -> bool:
        """True for staff (they follow no timetable)."""
        return self.group == STAFF_GROUP


def _pick(
    entries: list[RosterEntry], groups: Sequence[str], n: int, prefix: str
) -> list[tuple[str, str, bool]]:
    """n (tag, group, consent): the roster's in turn over groups, then generated ones."""
    by_group = {g: [e for e in entries if e.group == g] for g in groups}
    out: list[tuple[str, str, bool]] = []
    for column in itertools.count():
        if len(out) >= n or all(column >= len(v) for v in by_group.values()):
            break
        for g in groups:
            if column < len(by_group[g]) and len(out) < n:
                e = by_group[g][column]
                out.append((e.tag, e.group, e.consent))
    order = {g: i for i, g in enumerate(groups)}
    out.sort(key=lambda tgc: (order[tgc[1]], tgc[0]))
    known = {e.tag for e in entries}
    serial = itertools.count(1)
    while len(out) < n:
        tag = f"{prefix}-{next(serial):05d}"
        if tag not in known:
            out.append((tag, groups[len(out) % len(groups)], True))
    return out


def build_population(
    spec: PopulationSpec, roster: Roster | None, timetable_groups: Sequence[str], seed: int
) -> tuple[Person, ...]:
    """Students then staff, each with a speed and, at the spec's rates, a quirk."""
    entries = list(roster.entries) if roster is not None else []
    students_in_roster = [e for e in entries if e.group != STAFF_GROUP]
    n_students = spec.students if spec.students is not None else (len(students_in_roster) or 60)
    groups = list(spec.groups or timetable_groups)
    if not groups:
        groups = [f"G{i + 1}" for i in range(max(1, -(-n_students // GROUP_SIZE)))]
    staff_in_roster = [e for e in entries if e.group == STAFF_GROUP]
    n_staff = (
        spec.staff if spec.staff is not None else (len(staff_in_roster) or max(1, n_students // 15))
    )
    chosen = _pick(students_in_roster, groups, n_students, "sim")
    staff = _pick(staff_in_roster, [STAFF_GROUP], n_staff, "sim-staff")
    rng = np.random.default_rng([seed, 1])
    people = []
    for tag, group, consent in chosen + staff:
        u = rng.random(5)
        lo, hi = spec.speed_mps
        badge = Badge.OK
        if u[2] < spec.dead_badge_rate:
            badge = Badge.DEAD
        elif u[2] < spec.dead_badge_rate + spec.locker_badge_rate and group != STAFF_GROUP:
            badge = Badge.LOCKER
        people.append(
            Person(
                tag=tag,
                group=group,
                consent=consent,
                speed_mps=float(lo + (hi - lo) * u[0]),
                absent=bool(u[1] < spec.absent_rate),
                late_s=float(600 + 1800 * u[4])
                if u[3] < spec.late_rate and group != STAFF_GROUP
                else 0.0,
                badge=badge,
            )
        )
    return tuple(people)


def roster_of(people: Sequence[Person]) -> Roster:
    """The population as the engine's roster (no names: the simulation has none)."""
    return Roster(
        tuple(
            RosterEntry(f"S{i + 1:05d}", p.tag, "", p.group, p.consent)
            for i, p in enumerate(people)
        )
    )
