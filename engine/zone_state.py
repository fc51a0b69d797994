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

Hysteresis. For a fix with uncertainty u the threshold is h = margin_m + k_uncertainty*u.
The band of a zone is b = min(h, cap), cap = small_zone_fraction x the zone's inradius
(so that a zone smaller than the fixes' uncertainty can still be entered, and left). A
fix is clearly IN a zone when it is more than b inside the boundary, clearly OUT when
more than b outside, in the BAND otherwise, and OFF_LEVEL when it is on another level.
A pending transition (ENTERING, LEAVING) starts at the first clear fix and is
confirmed by a clear fix at least `dwell_s` later; any fix that is not clear in the
same direction cancels it. A level change exits at once
(the locator already applies level hysteresis). The whole decision is the table
`TRANSITIONS` below, compiled to lookup arrays applied to every (student, zone) pair
of a round at once.

Storage (see `nbytes`): per student the last fix (t, x, y, level, uncertainty), badge
silence and a visit counter, plus `slots` membership slots (zone, state, since,
entered, visit) -- only zones the student is in or transitioning, the slot count grows
(doubling) when a student needs more. About 140 bytes per student with 4 slots.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import shapely

from engine.batches import PositionBatch
from engine.events import EventKind, Evidence, ZoneEvent
from geometry.errors import ConfigError, InputError
from geometry.model import Zone
from geometry.zone_index import ZoneIndex

F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]


class ZoneState(IntEnum):
    """Where a student stands with respect to one zone."""

    OUTSIDE = 0
    ENTERING = 1  # clearly inside, waiting for the dwell
    INSIDE = 2
    LEAVING = 3  # clearly outside, waiting for the dwell


class Observation(IntEnum):
    """What one fix says about one zone, after the margin and the uncertainty."""

    OUT = 0  # outside by more than the threshold
    BAND = 1  # within the threshold of the boundary: undecided
    IN = 2  # inside by more than the threshold
    OFF_LEVEL = 3  # the fix is on another level than the zone


class Emit(IntEnum):
    """What a transition emits."""

    NONE = 0
    ENTER = 1
    EXIT = 2


_S, _O, _E = ZoneState, Observation, Emit

#: (state, observation, dwell met) -> (next state, emitted). "Dwell met": for a pending
#: state, the time since the pending transition began is at least dwell_s; for a settled
#: state, dwell_s <= 0 (a transition would be confirmed by this very fix).
TRANSITIONS: Mapping[tuple[ZoneState, Observation, bool], tuple[ZoneState, Emit]] = {
    # OUTSIDE: a clear inside fix starts an entry (or is one, without dwell)
    (_S.OUTSIDE, _O.OUT, False): (_S.OUTSIDE, _E.NONE),
    (_S.OUTSIDE, _O.OUT, True): (_S.OUTSIDE, _E.NONE),
    (_S.OUTSIDE, _O.BAND, False): (_S.OUTSIDE, _E.NONE),
    (_S.OUTSIDE, _O.BAND, True): (_S.OUTSIDE, _E.NONE),
    (_S.OUTSIDE, _O.IN, False): (_S.ENTERING, _E.NONE),
    (_S.OUTSIDE, _O.IN, True): (_S.INSIDE, _E.ENTER),
    (_S.OUTSIDE, _O.OFF_LEVEL, False): (_S.OUTSIDE, _E.NONE),
    (_S.OUTSIDE, _O.OFF_LEVEL, True): (_S.OUTSIDE, _E.NONE),
    # ENTERING: confirmed by a clear inside fix after the dwell; anything else cancels
    (_S.ENTERING, _O.OUT, False): (_S.OUTSIDE, _E.NONE),
    (_S.ENTERING, _O.OUT, True): (_S.OUTSIDE, _E.NONE),
    (_S.ENTERING, _O.BAND, False): (_S.OUTSIDE, _E.NONE),
    (_S.ENTERING, _O.BAND, True): (_S.OUTSIDE, _E.NONE),
    (_S.ENTERING, _O.IN, False): (_S.ENTERING, _E.NONE),
    (_S.ENTERING, _O.IN, True): (_S.INSIDE, _E.ENTER),
    (_S.ENTERING, _O.OFF_LEVEL, False): (_S.OUTSIDE, _E.NONE),
    (_S.ENTERING, _O.OFF_LEVEL, True): (_S.OUTSIDE, _E.NONE),
    # INSIDE: a clear outside fix starts an exit (or is one); a level change exits at once
    (_S.INSIDE, _O.OUT, False): (_S.LEAVING, _E.NONE),
    (_S.INSIDE, _O.OUT, True): (_S.OUTSIDE, _E.EXIT),
    (_S.INSIDE, _O.BAND, False): (_S.INSIDE, _E.NONE),
    (_S.INSIDE, _O.BAND, True): (_S.INSIDE, _E.NONE),
    (_S.INSIDE, _O.IN, False): (_S.INSIDE, _E.NONE),
    (_S.INSIDE, _O.IN, True): (_S.INSIDE, _E.NONE),
    (_S.INSIDE, _O.OFF_LEVEL, False): (_S.OUTSIDE, _E.EXIT),
    (_S.INSIDE, _O.OFF_LEVEL, True): (_S.OUTSIDE, _E.EXIT),
    # LEAVING: confirmed by a clear outside fix after the dwell; anything else cancels
    (_S.LEAVING, _O.OUT, False): (_S.LEAVING, _E.NONE),
    (_S.LEAVING, _O.OUT, True): (_S.OUTSIDE, _E.EXIT),
    (_S.LEAVING, _O.BAND, False): (_S.INSIDE, _E.NONE),
    (_S.LEAVING, _O.BAND, True): (_S.INSIDE, _E.NONE),
    (_S.LEAVING, _O.IN, False): (_S.INSIDE, _E.NONE),
    (_S.LEAVING, _O.IN, True): (_S.INSIDE, _E.NONE),
    (_S.LEAVING, _O.OFF_LEVEL, False): (_S.OUTSIDE, _E.EXIT),
    (_S.LEAVING, _O.OFF_LEVEL, True): (_S.OUTSIDE, _E.EXIT),
}


def _compile_table() -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]:
    """TRANSITIONS as two lookup arrays [state, observation, dwell_met]."""
    nxt = np.full((4, 4, 2), -1, np.int8)
    emit = np.full((4, 4, 2), -1, np.int8)
    for (state, obs, dwell), (to, what) in TRANSITIONS.items():
        nxt[state, obs, int(dwell)] = to
        emit[state, obs, int(dwell)] = what
    if (nxt < 0).any():
        raise AssertionError("TRANSITIONS must cover every (state, observation, dwell)")
    return nxt, emit


_NEXT, _EMIT = _compile_table()
_PENDING = np.array([False, True, False, True])  # indexed by ZoneState
_KINDS: tuple[EventKind, ...] = tuple(EventKind)
_K = {k: i for i, k in enumerate(_KINDS)}


class BatchRejectedError(InputError):
    """A malformed batch: rejected whole, the engine state unchanged."""


def check_time_order(what: str, t: npt.NDArray[np.float64], newest: float, tol: float) -> None:
    """Raise BatchRejectedError naming the first row older than the newest time so far by
    more than `tol` seconds (`newest`: the newest time accepted before this batch)."""
    running = np.maximum.accumulate(np.concatenate(([newest], t)))[:-1]
    late = t < running - tol
    if late.any():
        row = int(np.argmax(late))
        raise BatchRejectedError(
            f"{what}: row {row}: t={float(t[row]):.3f} is older than "
            f"{float(running[row]):.3f} by more than the tolerance {tol} s "
            "(out of order); rejected whole"
        )


@dataclass(frozen=True, slots=True)
class Hysteresis:
    """How sure a fix must be before a zone transition counts, and badge silence limits."""

    margin_m: float = 0.5  # fixed distance past the boundary
    k_uncertainty: float = 1.5  # plus this many times the fix's uncertainty
    dwell_s: float = 3.0  # a pending transition must hold this long
    small_zone_fraction: float = 0.5  # entry threshold <= this x the zone's inradius
    stale_s: float = 30.0  # silent this long: `stale`
    lost_s: float = 120.0  # silent this long: `lost`
    tolerance_s: float = 0.5  # rows this much older than the newest are still accepted

    def __post_init__(self) -> None:
        checks = {
            "margin_m": self.margin_m >= 0,
            "k_uncertainty": self.k_uncertainty >= 0,
            "dwell_s": self.dwell_s >= 0,
            "small_zone_fraction": 0 < self.small_zone_fraction <= 1,
            "stale_s": self.stale_s > 0,
            "lost_s": self.lost_s >= self.stale_s,
            "tolerance_s": self.tolerance_s >= 0,
        }
        for key, ok in checks.items():
            value = getattr(self, key)
            if not (ok and math.isfinite(value)):
                raise ConfigError(
                    f"hysteresis: {key} = {value!r} is invalid; use a finite number "
                    "(>= 0; small_zone_fraction in (0, 1]; lost_s >= stale_s > 0)"
                )


class _Events:
    """Columnar event buffer; materialised to ZoneEvent values, sorted, at the end of a call."""

    __slots__ = ("cols",)

    NAMES = ("t", "student", "zone", "level", "kind", "visit", "dur", "x", "y", "u", "age")

    def __init__(self) -> None:
        self.cols: list[tuple[npt.NDArray[np.generic], ...]] = []

    def add(self, n: int, **cols: npt.ArrayLike) -> None:
        """Append n events; scalars broadcast."""
        if n == 0:
            return
        arrays = []
        for name in self.NAMES:
            a = np.asarray(cols.get(name, -1 if name in ("zone", "visit") else np.nan))
            arrays.append(np.broadcast_to(a, (n,)).copy() if a.ndim == 0 else a)
        self.cols.append(tuple(arrays))

    def __len__(self) -> int:
        return sum(len(c[0]) for c in self.cols)


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
        self._n = 0
        self._m = max(1, int(slots))
        self._alloc_students(0)
        self._zone_level = np.zeros(0, np.int32)
        self._cap = np.zeros(0, np.float64)
        self._zone_ids: list[str] = []
        self._eroded: dict[tuple[int, int], shapely.Geometry] = {}
        self._tree: tuple[shapely.STRtree, I64] | None = None
        for zone in index.zones:
            self._register(zone)

    # ---- storage ---------------------------------------------------------------------

    def _alloc_students(self, n: int) -> None:
        m = self._m
        self.last_t = np.full(n, np.nan)
        self.last_x = np.zeros(n)
        self.last_y = np.zeros(n)
        self.last_u = np.zeros(n)
        self.last_level = np.full(n, -1, np.int32)
        self.silence = np.zeros(n, np.int8)  # 0 heard, 1 stale, 2 lost
        self.visits = np.zeros(n, np.int32)
        self.slot_zone = np.full((n, m), -1, np.int32)
        self.slot_state = np.zeros((n, m), np.int8)
        self.slot_since = np.zeros((n, m))
        self.slot_entered = np.zeros((n, m))
        self.slot_visit = np.zeros((n, m), np.int32)
        self._n = n

    _STUDENT_ARRAYS = ("last_t", "last_x", "last_y", "last_u", "last_level", "silence", "visits")
    _SLOT_ARRAYS = ("slot_zone", "slot_state", "slot_since", "slot_entered", "slot_visit")
    _FILL: ClassVar[dict[str, float]] = {"last_t": np.nan, "last_level": -1, "slot_zone": -1}

    def ensure(self, n_students: int) -> None:
        """Room for student indexes 0 .. n_students - 1."""
        if n_students <= self._n:
            return
        extra = max(n_students - self._n, self._n // 2)  # amortised growth
        for name in self._STUDENT_ARRAYS + self._SLOT_ARRAYS:
            a = getattr(self, name)
            pad = np.full((extra, *a.shape[1:]), self._FILL.get(name, 0), a.dtype)
            setattr(self, name, np.concatenate([a, pad]))
        self._n += extra

    def _grow_slots(self, m: int) -> None:
        for name in self._SLOT_ARRAYS:
            a = getattr(self, name)
            pad = np.full((a.shape[0], m - self._m), self._FILL.get(name, 0), a.dtype)
            setattr(self, name, np.concatenate([a, pad], axis=1))
        self._m = m

    def nbytes(self) -> int:
        """Bytes of per-student state arrays (the engine state that grows with students)."""
        return int(sum(getattr(self, n).nbytes for n in self._STUDENT_ARRAYS + self._SLOT_ARRAYS))

    @property
    def capacity(self) -> int:
        """How many student indexes the arrays hold."""
        return self._n

    def snapshot(self) -> dict[str, npt.NDArray[np.generic] | float | int]:
        """Copies of the whole state (tests compare snapshots)."""
        out: dict[str, npt.NDArray[np.generic] | float | int] = {
            n: getattr(self, n)[: self._n].copy() for n in self._STUDENT_ARRAYS + self._SLOT_ARRAYS
        }
        out["now"] = self.now
        out["dropped_old"] = self.dropped_old
        return out

    def memberships(self, student: int) -> dict[str, ZoneState]:
        """Zone id -> state for the zones one student is in or transitioning (for tests/views)."""
        if student >= self._n:
            return {}
        out = {}
        for z, s in zip(self.slot_zone[student], self.slot_state[student], strict=True):
            if z >= 0:
                out[self._zone_ids[z]] = ZoneState(int(s))
        return out

    def inside(self, student: int) -> list[str]:
        """Zone ids the student is inside (INSIDE or LEAVING), sorted."""
        return sorted(
            z for z, s in self.memberships(student).items() if s in (_S.INSIDE, _S.LEAVING)
        )

    def inside_since(self, student: int) -> dict[str, float]:
        """Zone id -> when the student entered it, for the zones they are inside (views)."""
        if student >= self._n:
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
        cap_n = self.index.capacity
        if len(self._zone_level) < cap_n:
            extra = cap_n - len(self._zone_level)
            self._zone_level = np.concatenate([self._zone_level, np.full(extra, -1, np.int32)])
            self._cap = np.concatenate([self._cap, np.zeros(extra)])
            self._zone_ids += [""] * extra
        self._zone_level[number] = self.index.level_code(zone.level)
        radius = float(shapely.maximum_inscribed_circle(zone.polygon).length)
        self._cap[number] = self.h.small_zone_fraction * radius
        self._zone_ids[number] = zone.id
        self._eroded = {k: v for k, v in self._eroded.items() if k[0] != number}
        self._tree = None
        return number

    def _min_cap(self, level: int) -> float:
        sel = self._zone_level == level
        return float(self._cap[sel].min()) if sel.any() else math.inf

    # ---- validation --------------------------------------------------------------------

    def check(self, batch: PositionBatch, *, students: bool = True) -> None:
        """Raise BatchRejectedError when a batch is malformed (nothing is changed).

        `students=False`: the tag column holds external codes not yet through the gate.
        """
        n = len(batch.t)
        cols: dict[str, npt.NDArray[np.generic]] = {
            "tag": batch.tag,
            "level": batch.level,
            "x": batch.x,
            "y": batch.y,
            "uncertainty": batch.uncertainty,
        }
        for name, a in cols.items():
            if a.ndim != 1 or len(a) != n:
                raise BatchRejectedError(
                    f"position batch: column {name!r} has {len(a)} rows, t has {n}; rejected whole"
                )
        if n == 0:
            return
        for name, a in (("t", batch.t), ("x", batch.x), ("y", batch.y)):
            if not np.isfinite(a).all():
                row = int(np.argmin(np.isfinite(a)))
                raise BatchRejectedError(
                    f"position batch: row {row}: {name} is not finite; rejected whole"
                )
        u = batch.uncertainty
        if not (np.isfinite(u) & (u >= 0)).all():
            row = int(np.argmin(np.isfinite(u) & (u >= 0)))
            raise BatchRejectedError(
                f"position batch: row {row}: uncertainty must be finite and >= 0; rejected whole"
            )
        n_levels = len(self.index.level_ids)
        bad = (batch.level < 0) | (batch.level >= n_levels)
        if bad.any():
            row = int(np.argmax(bad))
            raise BatchRejectedError(
                f"position batch: row {row}: level code {int(batch.level[row])} is not one of "
                f"the {n_levels} levels; rejected whole"
            )
        bad_tag = (batch.tag < 0) | (batch.tag >= len(self.tag_names))
        if students and bad_tag.any():
            raise BatchRejectedError(
                f"position batch: row {int(np.argmax(bad_tag))}: the student index is not "
                "one the consent gate gave out; rejected whole"
            )
        check_time_order("position batch", batch.t, self.now, self.h.tolerance_s)

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
        out = _Events()
        if len(b):
            # the r-th fix of every student forms round r: one fix per student per round
            by_student = np.lexsort((np.arange(len(b)), b.tag))
            st = b.tag[by_student]
            start = np.r_[True, st[1:] != st[:-1]]
            group = np.cumsum(start) - 1
            first_pos = np.flatnonzero(start)
            rank = np.empty(len(b), np.int64)
            rank[by_student] = np.arange(len(b)) - first_pos[group]
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
        return self._materialise(self._silence(self.now, _Events()))

    def _silence(self, now: float, out: _Events) -> _Events:
        """stale/lost for students silent past the thresholds at `now`."""
        n = self._n
        if n == 0:
            return out
        has = ~np.isnan(self.last_t)
        students = np.arange(n, dtype=np.int64)
        self._silence_rows(students[has], np.full(int(has.sum()), now), out)
        return out

    def _silence_rows(self, s: I64, now: F64, out: _Events) -> None:
        """stale then lost events for the given students at the given times (strictly past)."""
        h = self.h
        for grade, limit, kind in ((1, h.stale_s, EventKind.STALE), (2, h.lost_s, EventKind.LOST)):
            due = (self.silence[s] < grade) & (now > self.last_t[s] + limit)
            if not due.any():
                continue
            d = s[due]
            self.silence[d] = grade
            out.add(
                len(d),
                t=self.last_t[d] + limit,
                student=d,
                level=self.last_level[d],
                kind=_K[kind],
                x=self.last_x[d],
                y=self.last_y[d],
                u=self.last_u[d],
                age=limit,
            )

    def _thresholds(self, u: F64) -> F64:
        return self.h.margin_m + self.h.k_uncertainty * u

    def _round(self, b: PositionBatch, out: _Events) -> None:
        """One fix per student (unique tags): silence, transitions, cross, reports."""
        h = self.h
        s = b.tag.astype(np.int64)
        t, lv, x, y, u = b.t, b.level, b.x, b.y, b.uncertainty
        # 1. silence that ended with this fix
        self._silence_rows(s, t, out)
        first = np.isnan(self.last_t[s])
        returning = ~first & (self.silence[s] > 0)
        thr = self._thresholds(u)
        if returning.any():
            # a dwell cannot span a silence: pending transitions fall back to their base
            r = s[returning]
            st = self.slot_state[r]
            self.slot_zone[r] = np.where(st == _S.ENTERING, -1, self.slot_zone[r])
            self.slot_state[r] = np.where(st == _S.LEAVING, _S.INSIDE, st)
        # 2. the pairs this student is in or transitioning
        sub = self.slot_zone[s]
        mr, mc = np.nonzero(sub >= 0)
        mz = sub[mr, mc]
        ms = s[mr]
        state = self.slot_state[ms, mc].astype(np.int64)
        same = self._zone_level[mz] == lv[mr]
        dist = np.full(len(mr), -np.inf)
        if same.any():
            k = np.flatnonzero(same)
            dist[k] = self.index.signed_distance(mz[k], x[mr[k]], y[mr[k]])
        band = np.minimum(thr[mr], self._cap[mz])
        obs = np.where(
            ~same,
            _O.OFF_LEVEL,
            np.where(dist > band, _O.IN, np.where(dist < -band, _O.OUT, _O.BAND)),
        ).astype(np.int64)
        since = self.slot_since[ms, mc]
        pending = _PENDING[state]
        met = np.where(pending, t[mr] - since >= h.dwell_s, h.dwell_s <= 0)
        nxt = _NEXT[state, obs, met.astype(np.int64)]
        emit = _EMIT[state, obs, met.astype(np.int64)]
        # 3. zones the fix is in that the student has no pair for
        hits = self.index.query(lv, x, y)
        hp = hits.point()
        hz = hits.zone
        # a hit is known when the student already has a slot for its zone (slots hold
        # zone numbers >= 0, free ones -1): a look at a few columns, not a set membership
        known = (sub[hp] == hz[:, None]).any(axis=1)
        np_, nz = hp[~known], hz[~known]
        nd = hits.distance[~known]
        is_in = nd > np.minimum(thr[np_], self._cap[nz])
        np_, nz = np_[is_in], nz[is_in]
        new_first = first[np_]
        if h.dwell_s <= 0:
            new_state = np.full(len(np_), _S.INSIDE, np.int8)
        else:
            new_state = np.where(new_first, _S.INSIDE, _S.ENTERING).astype(np.int8)
        new_kind = np.where(new_first, _K[EventKind.INSIDE], _K[EventKind.ENTER])
        # 4. write back existing pairs; exits close visits
        ex = np.flatnonzero(emit == _E.EXIT)
        out.add(
            len(ex),
            t=t[mr[ex]],
            student=ms[ex],
            zone=mz[ex],
            level=lv[mr[ex]],
            kind=_K[EventKind.EXIT],
            visit=self.slot_visit[ms[ex], mc[ex]],
            dur=t[mr[ex]] - self.slot_entered[ms[ex], mc[ex]],
            x=x[mr[ex]],
            y=y[mr[ex]],
            u=u[mr[ex]],
            age=0.0,
        )
        # the evidence level of an off-level exit is the fix's level (where the student is)
        started = _PENDING[nxt] & (nxt != state)
        self.slot_since[ms[started], mc[started]] = t[mr[started]]
        self.slot_state[ms, mc] = nxt
        gone = nxt == _S.OUTSIDE
        self.slot_zone[ms[gone], mc[gone]] = -1
        # 5. cross: segments through zones the student is not in, before or after
        self._cross(s, t, lv, x, y, u, thr, first, mr, mz, state, nxt, np_, nz, out)
        # 6. new pairs
        if len(np_):
            cols = self._allocate(s[np_])
            ns = s[np_]
            self.slot_zone[ns, cols] = nz
            self.slot_state[ns, cols] = new_state
            self.slot_since[ns, cols] = t[np_]
        else:
            cols = np.zeros(0, np.int64)
            ns = np.zeros(0, np.int64)
        # 7. enters (confirmed pairs and new pairs without dwell) and initial insides
        en = np.flatnonzero(emit == _E.ENTER)
        nn = np.flatnonzero(new_state == _S.INSIDE)
        e_s = np.concatenate([ms[en], ns[nn]])
        e_c = np.concatenate([mc[en], cols[nn]])
        e_row = np.concatenate([mr[en], np_[nn]])
        e_z = np.concatenate([mz[en], nz[nn]])
        e_kind = np.concatenate(
            [np.full(len(en), _K[EventKind.ENTER], np.int64), new_kind[nn].astype(np.int64)]
        )
        if len(e_s):
            o = np.lexsort((e_z, e_s))
            e_s, e_c, e_row, e_z, e_kind = e_s[o], e_c[o], e_row[o], e_z[o], e_kind[o]
            visit = self._next_visits(e_s)
            self.slot_visit[e_s, e_c] = visit
            self.slot_entered[e_s, e_c] = t[e_row]
            out.add(
                len(e_s),
                t=t[e_row],
                student=e_s,
                zone=e_z,
                level=lv[e_row],
                kind=e_kind,
                visit=visit,
                x=x[e_row],
                y=y[e_row],
                u=u[e_row],
                age=0.0,
            )
        # 8. reports when tracking (re)starts: inside for kept visits, else outside
        report = first | returning
        if report.any():
            rows = np.flatnonzero(report)
            sub2 = self.slot_zone[s[rows]]
            st2 = self.slot_state[s[rows]]
            inside = (sub2 >= 0) & ((st2 == _S.INSIDE) | (st2 == _S.LEAVING))
            # kept visits of returning students (new ones already said `inside`/`enter`)
            just = np.zeros_like(inside)
            if len(e_s):
                pos = {int(r): i for i, r in enumerate(rows)}
                for row, col in zip(e_row.tolist(), e_c.tolist(), strict=True):
                    if row in pos:
                        just[pos[row], col] = True
            rr, cc = np.nonzero(inside & ~just & returning[rows][:, None])
            if len(rr):
                ss = s[rows[rr]]
                out.add(
                    len(rr),
                    t=t[rows[rr]],
                    student=ss,
                    zone=sub2[rr, cc],
                    level=lv[rows[rr]],
                    kind=_K[EventKind.INSIDE],
                    visit=self.slot_visit[ss, cc],
                    x=x[rows[rr]],
                    y=y[rows[rr]],
                    u=u[rows[rr]],
                    age=0.0,
                )
            none = rows[~inside.any(axis=1)]
            out.add(
                len(none),
                t=t[none],
                student=s[none],
                level=lv[none],
                kind=_K[EventKind.OUTSIDE],
                x=x[none],
                y=y[none],
                u=u[none],
                age=0.0,
            )
        # 9. the new last fix
        self.last_t[s], self.last_x[s], self.last_y[s] = t, x, y
        self.last_u[s], self.last_level[s] = u, lv
        self.silence[s] = 0

    def _next_visits(self, students: I64) -> I32:
        """Consecutive visit numbers for students sorted by student (repeats allowed)."""
        start = np.r_[True, students[1:] != students[:-1]]
        grp = np.cumsum(start) - 1
        rank = np.arange(len(students)) - np.flatnonzero(start)[grp]
        visit = (self.visits[students] + rank + 1).astype(np.int32)
        np.maximum.at(self.visits, students, visit)
        return visit

    def _allocate(self, students: I64) -> I64:
        """A free slot column for each (student may repeat); grows the slot count if needed."""
        order = np.argsort(students, kind="stable")
        st = students[order]
        start = np.r_[True, st[1:] != st[:-1]]
        grp = np.cumsum(start) - 1
        firsts = np.flatnonzero(start)
        rank = np.arange(len(st)) - firsts[grp]
        uniq = st[start]
        need = np.diff(np.r_[firsts, len(st)])
        free = self.slot_zone[uniq] < 0
        short = need - free.sum(axis=1)
        if (short > 0).any():
            self._grow_slots(max(2 * self._m, self._m + int(short.max())))
            free = self.slot_zone[uniq] < 0
        fr, fc = np.nonzero(free)
        row_first = np.searchsorted(fr, np.arange(len(uniq)))
        cols = np.empty(len(st), np.int64)
        cols[order] = fc[row_first[grp] + rank]
        return cols

    def _cross(
        self,
        s: I64,
        t: F64,
        lv: I32,
        x: F64,
        y: F64,
        u: F64,
        thr: F64,
        first: npt.NDArray[np.bool_],
        mr: I64,
        mz: I32,
        state: I64,
        nxt: npt.NDArray[np.int8],
        np_: I64,
        nz: I32,
        out: _Events,
    ) -> None:
        """`cross` for segments through a zone the student is in neither before nor after."""
        px, py = self.last_x[s], self.last_y[s]
        plv, pt, pu = self.last_level[s], self.last_t[s], self.last_u[s]
        length = np.hypot(x - px, y - py)
        ok = ~first & (plv == lv) & (t - pt <= self.h.stale_s) & (length > 0)
        if not ok.any():
            return
        seg_thr = self._thresholds(np.maximum(u, pu))
        mins = np.array([self._min_cap(int(level)) for level in np.unique(lv[ok])])
        floor = float(mins.min()) if len(mins) else math.inf
        # a segment that enters a zone deeper than h and leaves it again is longer than 2h
        cand = np.flatnonzero(ok & (length > 2 * np.minimum(seg_thr, floor)))
        if len(cand) == 0:
            return
        zc = np.int64(max(self.index.capacity, 1))
        kept = ((state == _S.INSIDE) | (state == _S.LEAVING)) | (nxt != _S.OUTSIDE)
        # only the candidates' pairs can block one of their segments: a small set
        is_cand = np.zeros(len(s), bool)
        is_cand[cand] = True
        kept &= is_cand[mr]
        new = is_cand[np_]
        blocked = np.concatenate(
            [mr[kept].astype(np.int64) * zc + mz[kept], np_[new].astype(np.int64) * zc + nz[new]]
        )
        tree, numbers = self._strtree()
        coords = np.stack(
            [np.column_stack([px[cand], py[cand]]), np.column_stack([x[cand], y[cand]])], axis=1
        )
        lines = shapely.linestrings(coords)
        qi, ti = tree.query(lines)
        row = cand[qi]
        z = numbers[ti]
        ok = (self._zone_level[z] == lv[row]) & ~np.isin(row * zc + z, blocked)
        qi, row, z = qi[ok], row[ok], z[ok]
        if len(row) == 0:
            return
        depth = np.minimum(seg_thr[row], self._cap[z])
        q = np.floor(depth * 10.0).astype(np.int64)
        # one cache look-up per distinct (zone, depth), not per segment
        span = int(q.max()) + 1
        keys, inverse = np.unique(z.astype(np.int64) * span + q, return_inverse=True)
        shapes = np.empty(len(keys), dtype=object)
        shapes[:] = [self._eroded_zone(k // span, k % span) for k in keys.tolist()]
        eroded = shapes[inverse.ravel()]
        hit = shapely.intersects(lines[qi], eroded)
        r, zs = row[hit], z[hit].astype(np.int32)
        if len(r) == 0:
            return
        o = np.lexsort((zs, s[r]))
        r, zs = r[o], zs[o]
        visit = self._next_visits(s[r])
        out.add(
            len(r),
            t=t[r],
            student=s[r],
            zone=zs,
            level=lv[r],
            kind=_K[EventKind.CROSS],
            visit=visit,
            x=x[r],
            y=y[r],
            u=u[r],
            age=0.0,
        )

    def _strtree(self) -> tuple[shapely.STRtree, I64]:
        """An STRtree over every zone (rebuilt after a zone change) and its zone numbers."""
        if self._tree is None:
            zones = self.index.zones
            numbers = np.array([self.index.zone_number(z.id) for z in zones], np.int64)
            self._tree = (shapely.STRtree([z.polygon for z in zones]), numbers)
        return self._tree

    def _eroded_zone(self, z: int, q: int) -> shapely.Geometry:
        """The zone shrunk by q / 10 m (depths are quantised to 0.1 m), cached per zone."""
        key = (z, q)
        geom = self._eroded.get(key)
        if geom is None:
            geom = self.index.zone(z).polygon.buffer(-q / 10.0)
            self._eroded[key] = geom
        return geom

    # ---- runtime zone changes ----------------------------------------------------------

    def _live(self, level: int) -> I64:
        """Students with a fix on this level who are not silent."""
        n = self._n
        sel = ~np.isnan(self.last_t[:n]) & (self.silence[:n] == 0) & (self.last_level[:n] == level)
        return np.flatnonzero(sel).astype(np.int64)

    def _pair_slots(self, z: int) -> tuple[I64, I64]:
        """(student, slot) of every pair of one zone."""
        r, c = np.nonzero(self.slot_zone[: self._n] == z)
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
        out = self._silence(t, _Events())
        self.index.add(zone)
        z = self._register(zone)
        self.now = t
        self._at_once(z, t, EventKind.INSIDE, out)
        return self._materialise(out)

    def update_zone(self, zone: Zone, t: float) -> list[ZoneEvent]:
        """Change a zone; membership is re-evaluated at once (`enter`/`exit`)."""
        t = self._checked_time(t, f"update zone {zone.id!r}")
        out = self._silence(t, _Events())
        self.index.update(zone)
        z = self._register(zone)
        self.now = t
        self._at_once(z, t, EventKind.ENTER, out)
        return self._materialise(out)

    def remove_zone(self, zone_id: str, t: float) -> list[ZoneEvent]:
        """Remove a zone; everyone inside gets `exit` (with the visit's duration) at once."""
        t = self._checked_time(t, f"remove zone {zone_id!r}")
        out = self._silence(t, _Events())
        z = self.index.zone_number(zone_id)
        ps, pc = self._pair_slots(z)
        inside = (self.slot_state[ps, pc] == _S.INSIDE) | (self.slot_state[ps, pc] == _S.LEAVING)
        self._exits(ps[inside], pc[inside], z, t, out)
        self.slot_zone[ps, pc] = -1
        self.now = t
        events = self._materialise(out)  # zone ids resolve before the number is freed
        self.index.remove(zone_id)
        self._zone_level[z] = -1
        self._cap[z] = 0.0
        self._eroded = {k: v for k, v in self._eroded.items() if k[0] != z}
        self._tree = None
        return events

    def _exits(self, ps: I64, pc: I64, z: int, t: float, out: _Events) -> None:
        out.add(
            len(ps),
            t=t,
            student=ps,
            zone=z,
            level=self.last_level[ps],
            kind=_K[EventKind.EXIT],
            visit=self.slot_visit[ps, pc],
            dur=t - self.slot_entered[ps, pc],
            x=self.last_x[ps],
            y=self.last_y[ps],
            u=self.last_u[ps],
            age=t - self.last_t[ps],
        )

    def _at_once(self, z: int, t: float, kind: EventKind, out: _Events) -> None:
        """Re-evaluate one zone for every live student with no dwell (add/update)."""
        level = int(self._zone_level[z])
        # pairs that exist: decide IN/OUT at once, BAND resolves a pending state to its base
        ps, pc = self._pair_slots(z)
        live = self.silence[ps] == 0
        ps, pc = ps[live], pc[live]
        st = self.slot_state[ps, pc].astype(np.int64)
        on = self.last_level[ps] == level
        d = np.full(len(ps), -np.inf)
        if on.any():
            k = np.flatnonzero(on)
            d[k] = self.index.signed_distance(
                np.full(len(k), z, np.int32), self.last_x[ps[k]], self.last_y[ps[k]]
            )
        band = np.minimum(self._thresholds(self.last_u[ps]), self._cap[z])
        was_in = (st == _S.INSIDE) | (st == _S.LEAVING)
        now_in = np.where(d > band, True, np.where(d < -band, False, was_in))
        leave = was_in & ~now_in
        self._exits(ps[leave], pc[leave], z, t, out)
        self.slot_zone[ps[leave | ~now_in], pc[leave | ~now_in]] = -1
        keep = now_in
        self.slot_state[ps[keep], pc[keep]] = _S.INSIDE
        come = ~was_in & now_in  # pending entries confirmed at once
        # students with no pair: clearly inside -> a new visit
        cand = self._live(level)
        cand = cand[~np.isin(cand, self._pair_slots(z)[0])]
        if len(cand):
            d2 = self.index.signed_distance(
                np.full(len(cand), z, np.int32), self.last_x[cand], self.last_y[cand]
            )
            thr2 = self._thresholds(self.last_u[cand])
            cand = cand[d2 > np.minimum(thr2, self._cap[z])]
        new_s = np.concatenate([ps[come], cand])
        if len(new_s) == 0:
            return
        cols = np.concatenate([pc[come], self._allocate(cand) if len(cand) else []]).astype(
            np.int64
        )
        o = np.argsort(new_s, kind="stable")
        new_s, cols = new_s[o], cols[o]
        self.slot_zone[new_s, cols] = z
        self.slot_state[new_s, cols] = _S.INSIDE
        visit = self._next_visits(new_s)
        self.slot_visit[new_s, cols] = visit
        self.slot_entered[new_s, cols] = t
        out.add(
            len(new_s),
            t=t,
            student=new_s,
            zone=z,
            level=self.last_level[new_s],
            kind=_K[kind],
            visit=visit,
            x=self.last_x[new_s],
            y=self.last_y[new_s],
            u=self.last_u[new_s],
            age=t - self.last_t[new_s],
        )

    def forget(self, students: npt.ArrayLike) -> None:
        """Drop every trace of these students (consent withdrawn): no events are emitted."""
        s = np.asarray(students, np.int64)
        s = s[(s >= 0) & (s < self._n)]
        for name in self._STUDENT_ARRAYS + self._SLOT_ARRAYS:
            getattr(self, name)[s] = self._FILL.get(name, 0)

    # ---- output ------------------------------------------------------------------------

    def _materialise(self, out: _Events) -> list[ZoneEvent]:
        """The buffered events as ZoneEvent values, ordered by (t, student, emission)."""
        if not out.cols:
            return []
        cols = [np.concatenate([c[i] for c in out.cols]) for i in range(len(_Events.NAMES))]
        order = np.lexsort((np.arange(len(cols[0])), cols[1], cols[0]))
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
