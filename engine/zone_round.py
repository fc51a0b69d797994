"""The small columnar values one round of the zone state machine works on.

A round takes one fix per student (`RoundFixes`), finds the student-zone slots those
fixes touch (`RoundPairs`) and the zones newly entered (`Arrivals`), and collects the
events it emits in `EventColumns`, turned into ZoneEvent values once per call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


class EventColumns:
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


@dataclass(frozen=True, slots=True)
class RoundFixes:
    """One round: one fix per student, with what the machine knew of the student before."""

    student: I64
    t: F64
    level: I32
    x: F64
    y: F64
    uncertainty: F64
    threshold: F64  # margin_m + k_uncertainty * uncertainty
    first: Bools  # the student's first fix
    returning: Bools  # the first fix after the badge went stale or lost

    def evidence(self, rows: I64) -> dict[str, npt.ArrayLike]:
        """The columns every fix-driven event of these rows carries (age 0)."""
        return {
            "t": self.t[rows],
            "student": self.student[rows],
            "level": self.level[rows],
            "x": self.x[rows],
            "y": self.y[rows],
            "u": self.uncertainty[rows],
            "age": 0.0,
        }


@dataclass(frozen=True, slots=True)
class RoundPairs:
    """The slots of a round's students that hold a zone, and what the fix does to them."""

    row: I64  # the fix's row in the round
    column: I64  # the slot column
    zone: I32
    student: I64
    state: I64  # ZoneState before the fix
    next_state: npt.NDArray[np.int8]  # ZoneState after it (TRANSITIONS)
    emit: npt.NDArray[np.int8]  # Emit


@dataclass(frozen=True, slots=True)
class Arrivals:
    """Zones a fix is clearly inside that its student has no slot for: new pairs."""

    row: I64
    zone: I32
    state: npt.NDArray[np.int8]  # INSIDE (no dwell to wait for) or ENTERING
    kind: I64  # the event an INSIDE arrival emits: `inside` on a first fix, else `enter`


def runs_of(sorted_keys: npt.NDArray[np.integer[Any]]) -> tuple[Bools, I64, I64]:
    """For keys in sorted order: where each run of equal keys starts, the run number of
    every key, and its rank within its run (0, 1, ...)."""
    starts = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    run = np.cumsum(starts) - 1
    return starts, run, np.arange(len(sorted_keys)) - np.flatnonzero(starts)[run]
