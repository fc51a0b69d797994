"""Roll call during an evacuation (live, drill or test): who is at a muster point, who is not.

Decisions, in order of precedence for each expected student:

1. marked safe by a member of staff (with their name and a reason) -> `marked_safe`;
2. the badge is stale or lost (a `stale`/`lost` event and nothing heard since) -> `unknown`,
   even if the last fix was at a muster point: a silent badge proves nothing;
3. currently inside a muster-point zone -> `accounted` (at that muster point);
4. otherwise -> `unaccounted`, listed with the last known zone, time and uncertainty.

A student leaving a muster point becomes unaccounted again (counts are live, not
"ever arrived"). `all_accounted` is true only when nobody is unaccounted AND nobody is
unknown: a roll call never reports "all accounted" while a badge is silent.

Who is expected: every student on campus when the evacuation starts (the caller passes
them in, see `RuleSet.start_evacuation`), including stale or lost badges last seen on
campus, plus any student who appears on campus while it runs. Staleness is taken from the
zone state machine's `stale`/`lost` events (it knows when a badge was last heard); the
roll call does not guess it from the age of the last transition, because a student
standing still at a muster point produces no transitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from engine.events import EventKind, ZoneEvent
from geometry.errors import StsError


class RollMode(StrEnum):
    """Why the roll call runs: a real evacuation, a drill, or a system test (no alerts)."""

    LIVE = "live"
    DRILL = "drill"
    TEST = "test"


class RollStatus(StrEnum):
    """Where a student stands in the roll call."""

    ACCOUNTED = "accounted"
    MARKED_SAFE = "marked_safe"
    UNACCOUNTED = "unaccounted"
    UNKNOWN = "unknown"


class RollCallError(StsError):
    """A roll-call command cannot be carried out (names the student and the fix)."""


@dataclass(frozen=True, slots=True)
class RollEntry:
    """One student's line in the roll call."""

    tag: str
    status: RollStatus
    muster_point: str = ""  # where accounted
    last_zone: str = ""
    last_seen: float | None = None
    uncertainty_m: float | None = None
    marked_by: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RollCallReport:
    """The roll call at one moment: counts, per-muster counts and the missing list."""

    t: float
    mode: RollMode
    started_at: float
    expected: int
    accounted: int
    marked_safe: int
    unaccounted: int
    unknown: int
    per_muster_point: Mapping[str, int]
    missing: tuple[RollEntry, ...]  # unaccounted and unknown, unknown first, then by tag

    @property
    def no_data(self) -> bool:
        """True when nobody was expected: a roll call of no one proves nothing."""
        return self.expected == 0

    @property
    def all_accounted(self) -> bool:
        """True only when someone was expected and every one is accounted or marked safe."""
        return self.expected > 0 and self.unaccounted == 0 and self.unknown == 0


@dataclass(slots=True)
class _Student:
    last_zone: str = ""
    last_seen: float | None = None
    uncertainty_m: float | None = None
    muster: set[str] = field(default_factory=set)
    silent: bool = False
    marked_by: str = ""
    reason: str = ""
    marked_at: float | None = None


@dataclass(frozen=True, slots=True)
class Sighting:
    """What is known of a student when the roll call starts."""

    tag: str
    zones: frozenset[str] = frozenset()
    last_zone: str = ""
    last_seen: float | None = None
    uncertainty_m: float | None = None
    silent: bool = False


class RollCall:
    """The live roll call of one evacuation; feed it zone events, ask it for a report."""

    def __init__(
        self,
        mode: RollMode,
        started_at: float,
        muster_zones: Iterable[str],
        campus_zones: Iterable[str],
        expected: Iterable[Sighting] = (),
    ) -> None:
        self.mode = RollMode(mode)
        self.started_at = started_at
        self.muster_zones = frozenset(muster_zones)
        self.campus_zones = frozenset(campus_zones)
        if not self.muster_zones:
            raise RollCallError("roll call needs at least one muster_point zone in the floorplan")
        self.ended_at: float | None = None
        self._students: dict[str, _Student] = {}
        for s in expected:
            self._students[s.tag] = _Student(
                last_zone=s.last_zone,
                last_seen=s.last_seen,
                uncertainty_m=s.uncertainty_m,
                muster=set(s.zones & self.muster_zones),
                silent=s.silent,
            )

    @property
    def expected_tags(self) -> frozenset[str]:
        """Every student the roll call expects at a muster point."""
        return frozenset(self._students)

    def observe(self, events: Iterable[ZoneEvent]) -> None:
        """Update from zone events (in time order)."""
        for ev in events:
            st = self._students.get(ev.tag)
            if st is None:
                if ev.zone not in self.campus_zones and ev.zone not in self.muster_zones:
                    continue
                if ev.kind not in (EventKind.ENTER, EventKind.INSIDE):
                    continue
                # A student arriving on campus during the evacuation is expected too.
                st = self._students[ev.tag] = _Student()
            if ev.kind in (EventKind.STALE, EventKind.LOST):
                st.silent = True
                continue
            if ev.kind == EventKind.OUTSIDE:
                st.muster.clear()  # inside no zone at all
            aged = ev.evidence is not None and ev.evidence.age_s > 0
            if ev.kind == EventKind.EXIT and aged:
                # a zone removed under a silent badge: not a sign of life
                st.muster.discard(ev.zone)
                continue
            st.silent = False  # the badge was heard again
            st.last_seen = ev.t
            if ev.evidence is not None:
                st.uncertainty_m = ev.evidence.uncertainty_m
                st.last_seen = ev.t - ev.evidence.age_s
            if ev.kind in (EventKind.ENTER, EventKind.INSIDE, EventKind.CROSS):
                st.last_zone = ev.zone
            if ev.zone in self.muster_zones:
                if ev.kind in (EventKind.ENTER, EventKind.INSIDE):
                    st.muster.add(ev.zone)
                elif ev.kind == EventKind.EXIT:
                    st.muster.discard(ev.zone)

    def forget(self, tag: str) -> None:
        """Consent withdrawn: the student leaves the roll call (staff account by hand)."""
        self._students.pop(tag, None)

    def mark_safe(self, tag: str, by: str, reason: str, t: float) -> None:
        """Staff vouch for a student by hand (seen at the gate, collected by a parent...)."""
        if not by.strip() or not reason.strip():
            raise RollCallError("mark safe needs the name of the person and a reason")
        st = self._students.get(tag)
        if st is None:
            # Vouching for someone not expected is allowed: it adds them, already safe.
            st = self._students[tag] = _Student()
        st.marked_by, st.reason, st.marked_at = by, reason, t

    def status(self, tag: str) -> RollStatus:
        """One expected student's status (RollCallError for someone not expected)."""
        st = self._students.get(tag)
        if st is None:
            raise RollCallError(f"student {tag!r} is not on this roll call")
        return self._status(st)

    @staticmethod
    def _status(st: _Student) -> RollStatus:
        if st.marked_by:
            return RollStatus.MARKED_SAFE
        if st.silent:
            return RollStatus.UNKNOWN
        if st.muster:
            return RollStatus.ACCOUNTED
        return RollStatus.UNACCOUNTED

    def entry(self, tag: str) -> RollEntry:
        """One student's roll-call line."""
        st = self._students[tag]
        return RollEntry(
            tag=tag,
            status=self._status(st),
            muster_point=min(st.muster) if st.muster else "",
            last_zone=st.last_zone,
            last_seen=st.last_seen,
            uncertainty_m=st.uncertainty_m,
            marked_by=st.marked_by,
            reason=st.reason,
        )

    def report(self, t: float) -> RollCallReport:
        """Live counts and the missing list at time t."""
        counts = dict.fromkeys(RollStatus, 0)
        per_muster = dict.fromkeys(sorted(self.muster_zones), 0)
        missing = []
        for tag in sorted(self._students):
            e = self.entry(tag)
            counts[e.status] += 1
            if e.status == RollStatus.ACCOUNTED:
                per_muster[e.muster_point] += 1
            elif e.status in (RollStatus.UNACCOUNTED, RollStatus.UNKNOWN):
                missing.append(e)
        missing.sort(key=lambda e: (e.status != RollStatus.UNKNOWN, e.tag))
        return RollCallReport(
            t=t,
            mode=self.mode,
            started_at=self.started_at,
            expected=len(self._students),
            accounted=counts[RollStatus.ACCOUNTED],
            marked_safe=counts[RollStatus.MARKED_SAFE],
            unaccounted=counts[RollStatus.UNACCOUNTED],
            unknown=counts[RollStatus.UNKNOWN],
            per_muster_point=MappingProxyType(per_muster),
            missing=tuple(missing),
        )


def report_record(report: RollCallReport) -> dict[str, object]:
    """The report as a JSON-ready dict (fixed key order) for feeds and files."""
    return {
        "t": report.t,
        "mode": report.mode.value,
        "started_at": report.started_at,
        "all_accounted": report.all_accounted,
        "expected": report.expected,
        "accounted": report.accounted,
        "marked_safe": report.marked_safe,
        "unaccounted": report.unaccounted,
        "unknown": report.unknown,
        "per_muster_point": dict(report.per_muster_point),
        "missing": [
            {
                "tag": e.tag,
                "status": e.status.value,
                "last_zone": e.last_zone,
                "last_seen": e.last_seen,
                "uncertainty_m": e.uncertainty_m,
            }
            for e in report.missing
        ],
    }
