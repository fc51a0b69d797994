"""The zone state machine: fixes in, zone events out, per (student, zone), over arrays.

NOTE for the rules/attendance side (H5b): events are `engine.events.ZoneEvent` values with
no new fields. What each kind means here:

- `enter` / `exit`: a confirmed transition (margin + uncertainty + dwell, see below).
  `exit` carries `duration_s` = exit time - the time of the visit's `enter`/`inside`.
- `inside`: a state report, not a transition: the student is (still) inside the zone.
  Emitted (a) on a student's first fix, for every zone the fix is clearly inside (no
  dwell: there is no earlier state to be hysteretic about); (b) on the first fix after
  the badge went `stale`/`lost`, for every zone the student is still inside (same visit
  id); (c) when `add_zone` creates a zone that a tracked, non-silent student is clearly
  inside.
- `outside` (zone ""): a state report: the student is inside no zone at all, emitted in
  the cases (a) and (b) above when there is no zone to report `inside` for.
- `cross`: the segment between two consecutive fixes on one level passes through a zone
  (deeper than the hysteresis threshold) while the student is neither inside it before
  nor after; it has its own visit id and no duration. Not emitted across a silence
  (previous fix older than `stale_s`).
- `stale` / `lost` (zone ""): the badge has been silent for more than `stale_s` /
  `lost_s`; the event time is exactly last fix + threshold (so it does not depend on
  when `advance` is called) and the evidence is the last fix (age = the threshold).
  Zone memberships are KEPT while silent (the student is last known there); the next
  fix re-evaluates them and reports `inside`/`outside` as in (b).
- Runtime zone changes act at once (no dwell) on the students' last fixes:
  `add_zone` -> `inside`; `update_zone` -> `enter`/`exit`; `remove_zone` -> `exit` with
  duration for everyone inside. Silent (stale/lost) students are re-evaluated on their
  next fix, except that removal closes their visits too (such an `exit` has
  evidence.age_s > 0 and is not a sign of life).
- Evidence on every event but stale/lost is the fix the decision was made on, with
  `age_s` = event time - fix time (0 for fix-driven events).
- Event order in one output: by time, then student index, then emission order
  (stale, lost, exit, cross, enter/inside, outside).
- Visit ids: f"{tag}:{zone}:{n}", n counting the student's visits (enter/inside/cross).
- events.jsonl (transports/json_codec.py, docs/events.md) nests the evidence as
  `"evidence": {x, y, level, uncertainty_m, age_s}` like the alert records;
  `transports.json_codec.decode_event` reads it back (and the older flat keys).

Hysteresis and the transition table: `engine.zone_transitions`.

Storage (see `nbytes`): per student the last fix (t, x, y, level, uncertainty), badge
silence and a visit counter, plus `slots` membership slots (zone, state, since,
entered, visit) -- only zones the student is in or transitioning, the slot count grows
(doubling) when a student needs more. About 140 bytes per student with 4 slots.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import shapely

from engine.batches import PositionBatch
from engine.events import EventKind, Evidence, ZoneEvent
from engine.position_checks import BatchRejectedError, check_positions, check_time_order
from engine.zone_round import Arrivals, EventColumns, RoundFixes, RoundPairs, runs_of
from engine.zone_transitions import (
    EMIT,
    NEXT,
    PENDING,
    TRANSITIONS,
    Emit,
    Hysteresis,
    KindHysteresis,
    Observation,
    ZoneState,
)
from geometry.errors import InputError
from geometry.model import Zone
from geometry.zone_index import ZoneIndex

F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

# re-exported: the engine and the tests import the machine's vocabulary from here
__all__ = [
    "TRANSITIONS",
    "BatchRejectedError",
    "Emit",
    "Hysteresis",
    "KindHysteresis",
    "Observation",
    "ZoneState",
    "ZoneStateMachine",
    "check_time_order",
]


_S, _O, _E = ZoneState, Observation, Emit
_KINDS: tuple[EventKind, ...] = tuple(EventKind)
_K = {k: i for i, k in enumerate(_KINDS)}


class ZoneStateMachine:
    """Per (student, zone) state over arrays; see the module docstring for the semantics."""

    def __init__(
        self,
        index: ZoneIndex,
        tag_names: Sequence[str],
        hysteresis: Hysteresis | None = None,
        *,
        slots: int = 4,
    ) -> None:
        self.index = index
        self.tag_names = tag_names  # student index -> tag; shared with the consent gate
        self.h = hysteresis or Hysteresis()
        self.now = -math.inf
        self.dropped_old = 0  # fixes older than the student's last fix (within tolerance)
        self._students = 0
        self._slots = max(1, int(slots))
        self._alloc_students(0)
        self._zone_level = np.zeros(0, np.int32)
        self._cap = np.zeros(0, np.float64)
        self._dwell = np.zeros(0, np.float64)
        self._max_u = np.zeros(0, np.float64)  # per zone: the least certain fix that enters
        self._slow = np.zeros(0, np.float64)  # per zone: the dwell of a less certain entry
        self._zone_ids: list[str] = []
        self._eroded: dict[tuple[int, int], shapely.Geometry] = {}
        for zone in index.zones:
            self._register(zone)

    # ---- storage ---------------------------------------------------------------------

    def _alloc_students(self, n: int) -> None:
        m = self._slots
        self.last_t = np.full(n, np.nan)
        self.last_x = np.zeros(n)
        self.last_y = np.zeros(n)
        self.last_u = np.zeros(n)
        self.last_level = np.full(n, -1, np.int32)
        self.silence = np.zeros(n, np.int8)  # 0 heard, 1 stale, 2 lost
        self._quiet_until = -math.inf  # no stale or lost event can fall due until then
        self.visits = np.zeros(n, np.int32)
        self.slot_zone = np.full((n, m), -1, np.int32)
        self.slot_state = np.zeros((n, m), np.int8)
        self.slot_since = np.zeros((n, m))
        self.slot_entered = np.zeros((n, m))
        self.slot_visit = np.zeros((n, m), np.int32)
        self._students = n

    _STUDENT_ARRAYS = ("last_t", "last_x", "last_y", "last_u", "last_level", "silence", "visits")
    _SLOT_ARRAYS = ("slot_zone", "slot_state", "slot_since", "slot_entered", "slot_visit")
    _FILL: ClassVar[dict[str, float]] = {"last_t": np.nan, "last_level": -1, "slot_zone": -1}

    def ensure(self, n_students: int) -> None:
        """Room for student indexes 0 .. n_students - 1."""
        if n_students <= self._students:
            return
        extra = max(n_students - self._students, self._students // 2)  # amortised growth
        for name in self._STUDENT_ARRAYS + self._SLOT_ARRAYS:
            a = getattr(self, name)
            pad = np.full((extra, *a.shape[1:]), self._FILL.get(name, 0), a.dtype)
            setattr(self, name, np.concatenate([a, pad]))
        self._students += extra

    def _grow_slots(self, m: int) -> None:
        for name in self._SLOT_ARRAYS:
            a = getattr(self, name)
            pad = np.full((a.shape[0], m - self._slots), self._FILL.get(name, 0), a.dtype)
            setattr(self, name, np.concatenate([a, pad], axis=1))
        self._slots = m

    def nbytes(self) -> int:
        """Bytes of per-student state arrays (the engine state that grows with students)."""
        return int(sum(getattr(self, n).nbytes for n in self._STUDENT_ARRAYS + self._SLOT_ARRAYS))

    @property
    def capacity(self) -> int:
        """How many student indexes the arrays hold."""
        return self._students

    def snapshot(self) -> dict[str, npt.NDArray[np.generic] | float | int]:
        """Copies of the whole state (tests compare snapshots)."""
        out: dict[str, npt.NDArray[np.generic] | float | int] = {
            n: getattr(self, n)[: self._students].copy()
            for n in self._STUDENT_ARRAYS + self._SLOT_ARRAYS
        }
        out["now"] = self.now
        out["dropped_old"] = self.dropped_old
        return out

    def memberships(self, student: int) -> dict[str, ZoneState]:
        """Zone id -> state for the zones one student is in or transitioning (for tests/views)."""
        if student >= self._students:
            return {}
        out = {}
        for zone, state in zip(self.slot_zone[student], self.slot_state[student], strict=True):
            if zone >= 0:
                out[self._zone_ids[zone]] = ZoneState(int(state))
        return out

    def inside(self, student: int) -> list[str]:
        """Zone ids the student is inside (INSIDE or LEAVING), sorted."""
        return sorted(
            z for z, s in self.memberships(student).items() if s in (_S.INSIDE, _S.LEAVING)
        )

    def inside_since(self, student: int) -> dict[str, float]:
        """Zone id -> when the student entered it, for the zones they are inside (views)."""
        if student >= self._students:
            return {}
        out = {}
        for z, s, entered in zip(
            self.slot_zone[student],
            self.slot_state[student],
            self.slot_entered[student],
            strict=True,
        ):
            if z >= 0 and s in (_S.INSIDE, _S.LEAVING):
                out[self._zone_ids[z]] = float(entered)
        return out

    # ---- zones -------------------------------------------------------------------------

    def _register(self, zone: Zone) -> int:
        """Per-zone arrays (level, entry cap, id) for a zone already in the index."""
        number = self.index.zone_number(zone.id)
        if len(self._zone_level) < self.index.capacity:
            extra = self.index.capacity - len(self._zone_level)
            self._zone_level = np.concatenate([self._zone_level, np.full(extra, -1, np.int32)])
            self._cap = np.concatenate([self._cap, np.zeros(extra)])
            self._dwell = np.concatenate([self._dwell, np.zeros(extra)])
            self._max_u = np.concatenate([self._max_u, np.zeros(extra)])
            self._slow = np.concatenate([self._slow, np.zeros(extra)])
            self._zone_ids += [""] * extra
        self._zone_level[number] = self.index.level_code(zone.level)
        radius = float(shapely.maximum_inscribed_circle(zone.polygon).length)
        kind = self.h.for_kind(zone.kind)
        self._cap[number] = min(self.h.small_zone_fraction * radius, kind.band_m)
        self._dwell[number] = kind.dwell_s
        self._max_u[number] = kind.max_uncertainty_m
        slow = kind.uncertain_dwell_s
        self._slow[number] = self.h.dwell_s if slow is None else slow
        self._zone_ids[number] = zone.id
        self._eroded = {k: v for k, v in self._eroded.items() if k[0] != number}
        return number

    def _certain(self, zone: int | npt.NDArray[np.integer], uncertainty: F64) -> Bools:
        """Whether fixes of this uncertainty enter these zones after their kind's dwell."""
        return uncertainty <= self._max_u[zone]

    def _entry_dwell(self, zone: npt.NDArray[np.integer], uncertainty: F64) -> F64:
        """The dwell an entry into these zones needs, confirmed by fixes of this uncertainty:
        the kind's own, or, past the kind's uncertainty limit, at least the kind's
        `uncertain_dwell_s` (the engine's dwell by default)."""
        dwell = self._dwell[zone]
        slow = np.maximum(dwell, self._slow[zone])
        return np.where(self._certain(zone, uncertainty), dwell, slow)

    def _min_cap(self, level: int) -> float:
        """The smallest entry cap of the zones of a level (inf when it has none)."""
        on = self._zone_level == level
        return float(self._cap[on].min()) if on.any() else math.inf

    # ---- validation --------------------------------------------------------------------

    def check(self, batch: PositionBatch, *, students: bool = True) -> None:
        """Raise BatchRejectedError when a batch is malformed (nothing is changed).

        `students=False`: the tag column holds external codes not yet through the gate.
        """
        n_students = len(self.tag_names) if students else None
        limits = (len(self.index.level_ids), n_students, self.now, self.h.tolerance_s)
        check_positions(batch, *limits)

    # ---- the stream --------------------------------------------------------------------

    def process(self, batch: PositionBatch) -> list[ZoneEvent]:
        """Zone events for a batch of fixes (tag = student index); checks the batch first."""
        self.check(batch)
        if len(batch) == 0:
            return []
        self.ensure(int(batch.tag.max()) + 1)
        order = np.argsort(batch.t, kind="stable")
        b = batch.take(order)
        # fixes older than the student's last one (within tolerance) say nothing new
        fresh = ~(b.t < self.last_t[b.tag])
        self.dropped_old += int((~fresh).sum())
        b = b.take(fresh)
        out = EventColumns()
        if len(b):
            # the r-th fix of every student forms round r: one fix per student per round
            by_student = np.lexsort((np.arange(len(b)), b.tag))
            rank = np.empty(len(b), np.int64)
            rank[by_student] = runs_of(b.tag[by_student])[2]
            for r in range(int(rank.max()) + 1):
                self._round(b.take(np.flatnonzero(rank == r)), out)
            self.now = max(self.now, float(b.t.max()))
        out_events = self._silence(self.now, out)
        return self._materialise(out_events)

    def advance(self, t: float) -> list[ZoneEvent]:
        """Move time on to t with no fixes: the `stale`/`lost` events that became due."""
        if not math.isfinite(t):
            raise InputError(f"advance: t must be a finite time, got {t!r}")
        self.now = max(self.now, t)
        return self._materialise(self._silence(self.now, EventColumns()))

    def _silence(self, now: float, out: EventColumns) -> EventColumns:
        """stale/lost for students silent past the thresholds at `now`."""
        n = self._students
        # Nobody can fall silent before the earliest due time of the last look: a live
        # engine calls this ten times a second, and a look walks every student.
        if n == 0 or now <= self._quiet_until:
            return out
        has = ~np.isnan(self.last_t)
        students = np.arange(n, dtype=np.int64)
        self._silence_rows(students[has], np.full(int(has.sum()), now), out)
        self._quiet_until = self._next_silence_due()
        return out

    def _next_silence_due(self) -> float:
        """The earliest time at which a student would go stale or lost (inf: none can)."""
        h = self.h
        heard = self.silence == 0
        first = min(h.stale_s, h.lost_s)
        due = np.where(heard, self.last_t + first, self.last_t + h.lost_s)
        due = due[(self.silence < 2) & ~np.isnan(self.last_t)]
        return float(due.min()) if len(due) else math.inf

    def _silence_rows(self, students: I64, now: F64, out: EventColumns) -> None:
        """stale then lost events for the given students at the given times (strictly past)."""
        h = self.h
        for grade, limit, kind in ((1, h.stale_s, EventKind.STALE), (2, h.lost_s, EventKind.LOST)):
            due = students[(self.silence[students] < grade) & (now > self.last_t[students] + limit)]
            if len(due) == 0:
                continue
            self.silence[due] = grade
            out.add(
                len(due),
                t=self.last_t[due] + limit,
                student=due,
                level=self.last_level[due],
                kind=_K[kind],
                x=self.last_x[due],
                y=self.last_y[due],
                u=self.last_u[due],
                age=limit,
            )

    def _thresholds(self, uncertainty: F64) -> F64:
        """The hysteresis threshold of fixes of this uncertainty (before the zone's cap)."""
        return self.h.margin_m + self.h.k_uncertainty * uncertainty

    def _round(self, b: PositionBatch, out: EventColumns) -> None:
        """One fix per student (unique tags): silence, transitions, cross, reports."""
        student = b.tag.astype(np.int64)
        self._silence_rows(student, b.t, out)  # silences this fix ends
        first = np.isnan(self.last_t[student])
        fixes = RoundFixes(
            student,
            b.t,
            b.level,
            b.x,
            b.y,
            b.uncertainty,
            self._thresholds(b.uncertainty),
            first,
            ~first & (self.silence[student] > 0),
        )
        self._resume(student[fixes.returning])
        slot_zones = self.slot_zone[student]
        pairs = self._transitions(fixes, slot_zones)
        arrivals = self._arrivals(fixes, slot_zones)
        self._apply(fixes, pairs, out)
        self._cross(fixes, pairs, arrivals, out)
        columns = self._open(fixes, arrivals)
        entered = self._enter(fixes, pairs, (arrivals, columns), out)
        self._report(fixes, entered, out)
        self.last_t[student], self.last_x[student], self.last_y[student] = b.t, b.x, b.y
        self.last_u[student], self.last_level[student] = b.uncertainty, b.level
        self.silence[student] = 0
        # A fix may be older than the others' (within the tolerance): its silence is due
        # earlier than the last look's earliest.
        due = float(b.t.min()) + min(self.h.stale_s, self.h.lost_s)
        self._quiet_until = min(self._quiet_until, due)

    def _resume(self, students: I64) -> None:
        """After a silence: a dwell cannot span it, so pending transitions fall back to
        their base state (ENTERING to no pair, LEAVING to INSIDE)."""
        state = self.slot_state[students]
        self.slot_zone[students] = np.where(state == _S.ENTERING, -1, self.slot_zone[students])
        self.slot_state[students] = np.where(state == _S.LEAVING, _S.INSIDE, state)

    def _transitions(self, fixes: RoundFixes, slot_zones: I32) -> RoundPairs:
        """What each fix says about the zones its student has a slot for (`TRANSITIONS`)."""
        row, column = np.nonzero(slot_zones >= 0)
        zone = slot_zones[row, column]
        student = fixes.student[row]
        state = self.slot_state[student, column].astype(np.int64)
        on_level = self._zone_level[zone] == fixes.level[row]
        depth = np.full(len(row), -np.inf)  # signed distance: > 0 inside
        if on_level.any():
            k = np.flatnonzero(on_level)
            depth[k] = self.index.signed_distance(zone[k], fixes.x[row[k]], fixes.y[row[k]])
        band = np.minimum(fixes.threshold[row], self._cap[zone])
        clear = np.where(depth > band, _O.IN, np.where(depth < -band, _O.OUT, _O.BAND))
        seen = np.where(on_level, clear, _O.OFF_LEVEL).astype(np.int64)
        entering = (state == _S.OUTSIDE) | (state == _S.ENTERING)
        entry_dwell = self._entry_dwell(zone, fixes.uncertainty[row])
        dwell = np.where(entering, entry_dwell, self._dwell[zone])
        waited = fixes.t[row] - self.slot_since[student, column] >= dwell
        dwell_met = np.where(PENDING[state], waited, dwell <= 0).astype(np.int64)
        next_state, emit = NEXT[state, seen, dwell_met], EMIT[state, seen, dwell_met]
        return RoundPairs(row, column, zone, student, state, next_state, emit)

    def _arrivals(self, fixes: RoundFixes, slot_zones: I32) -> Arrivals:
        """Zones each fix is clearly inside that its student has no slot for."""
        hits = self.index.query(fixes.level, fixes.x, fixes.y)
        row, zone = hits.point(), hits.zone
        # a hit is known when the student already has a slot for its zone (slots hold
        # zone numbers >= 0, free ones -1): a look at a few columns, not a set membership
        known = (slot_zones[row] == zone[:, None]).any(axis=1)
        clear = hits.distance > np.minimum(fixes.threshold[row], self._cap[zone])
        row, zone = row[~known & clear], zone[~known & clear]
        first = fixes.first[row]
        certain = self._certain(zone, fixes.uncertainty[row])
        at_once = (first | (self._dwell[zone] <= 0)) & certain
        state = np.where(at_once, _S.INSIDE, _S.ENTERING).astype(np.int8)
        kind = np.where(first, _K[EventKind.INSIDE], _K[EventKind.ENTER]).astype(np.int64)
        return Arrivals(row, zone, state, kind)

    def _apply(self, fixes: RoundFixes, pairs: RoundPairs, out: EventColumns) -> None:
        """Write the pairs' new states back; exits close their visits.

        An off-level exit's evidence level is the fix's (where the student now is).
        """
        ex = np.flatnonzero(pairs.emit == _E.EXIT)
        rows, students, columns = pairs.row[ex], pairs.student[ex], pairs.column[ex]
        out.add(
            len(ex),
            **fixes.evidence(rows),
            zone=pairs.zone[ex],
            kind=_K[EventKind.EXIT],
            visit=self.slot_visit[students, columns],
            dur=fixes.t[rows] - self.slot_entered[students, columns],
        )
        started = PENDING[pairs.next_state] & (pairs.next_state != pairs.state)
        self.slot_since[pairs.student[started], pairs.column[started]] = fixes.t[pairs.row[started]]
        self.slot_state[pairs.student, pairs.column] = pairs.next_state
        gone = pairs.next_state == _S.OUTSIDE
        self.slot_zone[pairs.student[gone], pairs.column[gone]] = -1

    def _open(self, fixes: RoundFixes, arrivals: Arrivals) -> I64:
        """Slots for the arrivals; their slot columns."""
        if len(arrivals.row) == 0:
            return np.zeros(0, np.int64)
        students = fixes.student[arrivals.row]
        columns = self._allocate(students)
        self.slot_zone[students, columns] = arrivals.zone
        self.slot_state[students, columns] = arrivals.state
        self.slot_since[students, columns] = fixes.t[arrivals.row]
        return columns

    def _enter(
        self, fixes: RoundFixes, pairs: RoundPairs, opened: tuple[Arrivals, I64], out: EventColumns
    ) -> tuple[I64, I64]:
        """`enter` for confirmed entries and arrivals without dwell, `inside` for those of
        a first fix; each starts a visit. Returns their (fix row, slot column)."""
        arrivals, columns = opened
        confirmed = np.flatnonzero(pairs.emit == _E.ENTER)
        settled = np.flatnonzero(arrivals.state == _S.INSIDE)
        rows = np.concatenate([pairs.row[confirmed], arrivals.row[settled]])
        cols = np.concatenate([pairs.column[confirmed], columns[settled]])
        zones = np.concatenate([pairs.zone[confirmed], arrivals.zone[settled]])
        enter = np.full(len(confirmed), _K[EventKind.ENTER], np.int64)
        kinds = np.concatenate([enter, arrivals.kind[settled]])
        if len(rows):
            order = np.lexsort((zones, fixes.student[rows]))
            rows, cols, zones, kinds = rows[order], cols[order], zones[order], kinds[order]
            students = fixes.student[rows]
            visit = self._next_visits(students)
            self.slot_visit[students, cols] = visit
            self.slot_entered[students, cols] = fixes.t[rows]
            out.add(len(rows), **fixes.evidence(rows), zone=zones, kind=kinds, visit=visit)
        return rows, cols

    def _report(self, fixes: RoundFixes, entered: tuple[I64, I64], out: EventColumns) -> None:
        """When tracking (re)starts: `inside` for each visit kept over a silence, else
        `outside` when the fix is in no zone."""
        rows = np.flatnonzero(fixes.first | fixes.returning)
        if len(rows) == 0:
            return
        zones = self.slot_zone[fixes.student[rows]]
        states = self.slot_state[fixes.student[rows]]
        inside = (zones >= 0) & ((states == _S.INSIDE) | (states == _S.LEAVING))
        # visits this fix opened have said `inside` or `enter` already
        just_opened = np.zeros_like(inside)
        entered_rows, entered_cols = entered
        mine = np.isin(entered_rows, rows)
        just_opened[np.searchsorted(rows, entered_rows[mine]), entered_cols[mine]] = True
        which, column = np.nonzero(inside & ~just_opened & fixes.returning[rows][:, None])
        kept = rows[which]
        out.add(
            len(kept),
            **fixes.evidence(kept),
            zone=zones[which, column],
            kind=_K[EventKind.INSIDE],
            visit=self.slot_visit[fixes.student[kept], column],
        )
        nowhere = rows[~inside.any(axis=1)]
        out.add(len(nowhere), **fixes.evidence(nowhere), kind=_K[EventKind.OUTSIDE])

    def _next_visits(self, students: I64) -> I32:
        """Consecutive visit numbers for students sorted by student (repeats allowed)."""
        rank = runs_of(students)[2]
        visit = (self.visits[students] + rank + 1).astype(np.int32)
        np.maximum.at(self.visits, students, visit)
        return visit

    def _allocate(self, students: I64) -> I64:
        """A free slot column for each (student may repeat); grows the slot count if needed."""
        order = np.argsort(students, kind="stable")
        starts, run, rank = runs_of(students[order])
        unique = students[order][starts]
        need = np.bincount(run)
        free = self.slot_zone[unique] < 0
        short = need - free.sum(axis=1)
        if (short > 0).any():
            self._grow_slots(max(2 * self._slots, self._slots + int(short.max())))
            free = self.slot_zone[unique] < 0
        free_row, free_column = np.nonzero(free)
        first_free = np.searchsorted(free_row, np.arange(len(unique)))
        columns = np.empty(len(students), np.int64)
        columns[order] = free_column[first_free[run] + rank]
        return columns

    def _cross(
        self, fixes: RoundFixes, pairs: RoundPairs, arrivals: Arrivals, out: EventColumns
    ) -> None:
        """`cross` for segments through a zone the student is in neither before nor after."""
        student = fixes.student
        before_x, before_y = self.last_x[student], self.last_y[student]
        length = np.hypot(fixes.x - before_x, fixes.y - before_y)
        same_level = self.last_level[student] == fixes.level
        recent = fixes.t - self.last_t[student] <= self.h.stale_s
        ok = ~fixes.first & same_level & recent & (length > 0)
        if not ok.any():
            return
        depth = self._thresholds(np.maximum(fixes.uncertainty, self.last_u[student]))
        caps = [self._min_cap(int(level)) for level in np.unique(fixes.level[ok])]
        # a segment that enters a zone deeper than h and leaves it again is longer than 2h
        rows = np.flatnonzero(ok & (length > 2 * np.minimum(depth, min(caps))))
        if len(rows) == 0:
            return
        start = np.column_stack([before_x[rows], before_y[rows]])
        end = np.column_stack([fixes.x[rows], fixes.y[rows]])
        segment, zone = self.index.segment_candidates(fixes.level[rows], start, end)
        row = rows[segment]
        candidate = np.zeros(len(student), bool)
        candidate[rows] = True
        blocked = self._blocked(pairs, arrivals, candidate)
        free = ~np.isin(row * max(self.index.capacity, 1) + zone, blocked)
        segment, row, zone = segment[free], row[free], zone[free]
        if len(row) == 0:
            return
        lines = shapely.linestrings(np.stack([start, end], axis=1))
        hit = shapely.intersects(lines[segment], self._eroded_zones(zone, depth[row]))
        hit &= self._certain(zone, np.maximum(fixes.uncertainty, self.last_u[student])[row])
        row, zone = row[hit], zone[hit].astype(np.int32)
        if len(row) == 0:
            return
        order = np.lexsort((zone, student[row]))
        row, zone = row[order], zone[order]
        visit = self._next_visits(student[row])
        out.add(len(row), **fixes.evidence(row), zone=zone, kind=_K[EventKind.CROSS], visit=visit)

    def _blocked(self, pairs: RoundPairs, arrivals: Arrivals, candidate: Bools) -> I64:
        """Keys (fix row * capacity + zone) of the candidate fixes' zones that cannot be
        crossed: the student is in the zone, or entering it, before or after the fix."""
        kept = (pairs.state == _S.INSIDE) | (pairs.state == _S.LEAVING)
        kept |= pairs.next_state != _S.OUTSIDE
        kept &= candidate[pairs.row]
        new = candidate[arrivals.row]
        capacity = max(self.index.capacity, 1)
        return np.concatenate(
            [
                pairs.row[kept].astype(np.int64) * capacity + pairs.zone[kept],
                arrivals.row[new].astype(np.int64) * capacity + arrivals.zone[new],
            ]
        )

    def _eroded_zones(self, zone: I64, depth: F64) -> npt.NDArray[np.object_]:
        """Each zone shrunk by its depth (quantised to 0.1 m: one cached shape per zone and
        depth, looked up once per distinct pair, not per segment)."""
        depth = np.minimum(depth, self._cap[zone])
        tenths = np.floor(depth * 10.0).astype(np.int64)
        span = int(tenths.max()) + 1
        keys, inverse = np.unique(zone.astype(np.int64) * span + tenths, return_inverse=True)
        shapes = np.empty(len(keys), dtype=object)
        shapes[:] = [self._eroded_zone(k // span, k % span) for k in keys.tolist()]
        return shapes[inverse.ravel()]

    def _eroded_zone(self, z: int, q: int) -> shapely.Geometry:
        """The zone shrunk by q / 10 m, cached per zone."""
        key = (z, q)
        geom = self._eroded.get(key)
        if geom is None:
            geom = self.index.zone(z).polygon.buffer(-q / 10.0)
            self._eroded[key] = geom
        return geom

    # ---- runtime zone changes ----------------------------------------------------------

    def _live(self, level: int) -> I64:
        """Students with a fix on this level who are not silent."""
        n = self._students
        sel = ~np.isnan(self.last_t[:n]) & (self.silence[:n] == 0) & (self.last_level[:n] == level)
        return np.flatnonzero(sel).astype(np.int64)

    def _pair_slots(self, z: int) -> tuple[I64, I64]:
        """(student, slot) of every pair of one zone."""
        r, c = np.nonzero(self.slot_zone[: self._students] == z)
        return r.astype(np.int64), c.astype(np.int64)

    def _checked_time(self, t: float, what: str) -> float:
        if not math.isfinite(t):
            raise InputError(f"{what}: t must be a finite time, got {t!r}")
        if t < self.now - self.h.tolerance_s:
            raise InputError(
                f"{what}: t={t:.3f} is before the engine's time {self.now:.3f}; commands "
                "come in time order"
            )
        return max(self.now, t)

    def add_zone(self, zone: Zone, t: float) -> list[ZoneEvent]:
        """Add a zone; every tracked student clearly inside it gets `inside` at once."""
        t = self._checked_time(t, f"add zone {zone.id!r}")
        out = self._silence(t, EventColumns())
        self.index.add(zone)
        z = self._register(zone)
        self.now = t
        self._at_once(z, t, EventKind.INSIDE, out)
        return self._materialise(out)

    def update_zone(self, zone: Zone, t: float) -> list[ZoneEvent]:
        """Change a zone; membership is re-evaluated at once (`enter`/`exit`)."""
        t = self._checked_time(t, f"update zone {zone.id!r}")
        out = self._silence(t, EventColumns())
        self.index.update(zone)
        z = self._register(zone)
        self.now = t
        self._at_once(z, t, EventKind.ENTER, out)
        return self._materialise(out)

    def remove_zone(self, zone_id: str, t: float) -> list[ZoneEvent]:
        """Remove a zone; everyone inside gets `exit` (with the visit's duration) at once."""
        t = self._checked_time(t, f"remove zone {zone_id!r}")
        out = self._silence(t, EventColumns())
        z = self.index.zone_number(zone_id)
        students, columns = self._pair_slots(z)
        state = self.slot_state[students, columns]
        inside = (state == _S.INSIDE) | (state == _S.LEAVING)
        self._exits(students[inside], columns[inside], z, t, out)
        self.slot_zone[students, columns] = -1
        self.now = t
        events = self._materialise(out)  # zone ids resolve before the number is freed
        self.index.remove(zone_id)
        self._zone_level[z] = -1
        self._cap[z] = 0.0
        self._eroded = {k: v for k, v in self._eroded.items() if k[0] != z}
        return events

    def _last_fix(self, students: I64, t: float) -> dict[str, npt.ArrayLike]:
        """The columns of an event at t decided on each student's last fix."""
        return {
            "t": t,
            "student": students,
            "level": self.last_level[students],
            "x": self.last_x[students],
            "y": self.last_y[students],
            "u": self.last_u[students],
            "age": t - self.last_t[students],
        }

    def _exits(self, students: I64, columns: I64, z: int, t: float, out: EventColumns) -> None:
        """`exit` of zone z at t for these (student, slot column) pairs."""
        out.add(
            len(students),
            **self._last_fix(students, t),
            zone=z,
            kind=_K[EventKind.EXIT],
            visit=self.slot_visit[students, columns],
            dur=t - self.slot_entered[students, columns],
        )

    def _last_depth(self, z: int, students: I64) -> F64:
        """Signed distance of each student's last fix into zone z (-inf on another level)."""
        depth = np.full(len(students), -np.inf)
        on = np.flatnonzero(self.last_level[students] == self._zone_level[z])
        if len(on):
            x, y = self.last_x[students[on]], self.last_y[students[on]]
            depth[on] = self.index.signed_distance(np.full(len(on), z, np.int32), x, y)
        return depth

    def _at_once(self, z: int, t: float, kind: EventKind, out: EventColumns) -> None:
        """Re-evaluate one zone for every live student with no dwell (add/update)."""
        # pairs that exist: decide IN/OUT at once, BAND resolves a pending state to its base
        students, columns = self._pair_slots(z)
        live = self.silence[students] == 0
        students, columns = students[live], columns[live]
        state = self.slot_state[students, columns]
        was_in = (state == _S.INSIDE) | (state == _S.LEAVING)
        depth = self._last_depth(z, students)
        band = np.minimum(self._thresholds(self.last_u[students]), self._cap[z])
        inside = (depth > band) & self._certain(z, self.last_u[students])
        now_in = np.where(inside, True, np.where(depth < -band, False, was_in))
        leave = was_in & ~now_in
        self._exits(students[leave], columns[leave], z, t, out)
        self.slot_zone[students[~now_in], columns[~now_in]] = -1
        self.slot_state[students[now_in], columns[now_in]] = _S.INSIDE
        confirmed = ~was_in & now_in  # pending entries confirmed at once
        # students with no pair whose last fix is clearly inside: a new visit
        newcomers = self._live(int(self._zone_level[z]))
        newcomers = newcomers[~np.isin(newcomers, self._pair_slots(z)[0])]
        band = np.minimum(self._thresholds(self.last_u[newcomers]), self._cap[z])
        certain = self._certain(z, self.last_u[newcomers])
        newcomers = newcomers[(self._last_depth(z, newcomers) > band) & certain]
        entering = np.concatenate([students[confirmed], newcomers])
        if len(entering) == 0:
            return
        opened = self._allocate(newcomers) if len(newcomers) else np.zeros(0, np.int64)
        cols = np.concatenate([columns[confirmed], opened]).astype(np.int64)
        order = np.argsort(entering, kind="stable")
        entering, cols = entering[order], cols[order]
        self.slot_zone[entering, cols] = z
        self.slot_state[entering, cols] = _S.INSIDE
        visit = self._next_visits(entering)
        self.slot_visit[entering, cols] = visit
        self.slot_entered[entering, cols] = t
        out.add(len(entering), **self._last_fix(entering, t), zone=z, kind=_K[kind], visit=visit)

    def forget(self, students: npt.ArrayLike) -> None:
        """Drop every trace of these students (consent withdrawn): no events are emitted."""
        s = np.asarray(students, np.int64)
        s = s[(s >= 0) & (s < self._students)]
        for name in self._STUDENT_ARRAYS + self._SLOT_ARRAYS:
            getattr(self, name)[s] = self._FILL.get(name, 0)

    # ---- output ------------------------------------------------------------------------

    def _materialise(self, out: EventColumns) -> list[ZoneEvent]:
        """The buffered events as ZoneEvent values, ordered by (t, silence last, student,
        emission).

        Why silence last: a stale or lost event at exactly the time of a transition is only
        known once time has passed it, so it may come in a later call than that
        transition; putting it after transitions of the same time keeps the order the same
        however the stream is split.
        """
        if not out.cols:
            return []
        cols = [np.concatenate([c[i] for c in out.cols]) for i in range(len(EventColumns.NAMES))]
        kind = cols[EventColumns.NAMES.index("kind")]
        silence = np.isin(kind, (_K[EventKind.STALE], _K[EventKind.LOST]))
        order = np.lexsort((np.arange(len(cols[0])), cols[1], silence, cols[0]))
        t, student, zone, level, kind, visit, dur, x, y, u, age = (c[order].tolist() for c in cols)
        level_names = [*self.index.level_ids, ""]  # index -1 -> ""
        zone_names = [*self._zone_ids, ""]
        # the event names the zone's level; the evidence where the fix was
        zone_levels = [level_names[int(lv)] for lv in self._zone_level] + [""]
        tags = self.tag_names
        kinds = _KINDS
        events: list[ZoneEvent] = []
        append = events.append
        # positional arguments in field order: this loop runs once per event
        for ti, si, zi, li, ki, vi, d, xi, yi, ui, ai in zip(
            t, student, zone, level, kind, visit, dur, x, y, u, age, strict=True
        ):
            tag = tags[int(si)]
            z = int(zi)
            zid = zone_names[z]
            lvl = level_names[int(li)]
            v = int(vi)
            append(
                ZoneEvent(
                    ti,
                    tag,
                    zid,
                    zone_levels[z] if z >= 0 else lvl,
                    kinds[int(ki)],
                    f"{tag}:{zid}:{v}" if v >= 0 else "",
                    None if d != d else d,  # NaN: no duration
                    Evidence(xi, yi, lvl, ui, ai),
                )
            )
        return events
