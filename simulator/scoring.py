"""Engine output against the ground truth: positioning, room and floor accuracy, breaches.

- Positioning error: horizontal distance of every fix to the wearer's true position at
  the fix time (badges that followed their wearer only: not dead, not in a locker).
- Room-level accuracy: the share of fixes whose walkable zone (the smallest non-container
  zone containing the fix) is the wearer's true zone; fixes whose wearer stood on no
  walkable zone are left out. Floor accuracy: the share with the true level.
- Breaches, per rule: a true breach (simulator/truth.py) is detected when an alert of
  that rule for that student (and zone) is raised between the breach's start and a
  minute after its end; recall, precision, detection delay (alert time minus the time
  the rule was due) and false alerts per 1,000 student-hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.batches import PositionBatch
from engine.events import Alert, AlertState
from geometry.zone_index import ZoneIndex
from simulator.truth import Breach, Segments
from simulator.walk_graph import CONTAINER_KINDS

LATE_MATCH_S = 60.0  # an alert this long after a breach ended still counts as its detection


@dataclass(frozen=True, slots=True)
class Positioning:
    """Fix-level accuracy."""

    fixes: int
    median_error_m: float
    p90_error_m: float
    room_accuracy: float
    floor_accuracy: float


@dataclass(frozen=True, slots=True)
class BreachScore:
    """Detection of one rule's breaches."""

    rule: str
    breaches: int
    detected: int
    alerts: int
    false_alerts: int
    median_delay_s: float
    p90_delay_s: float
    false_per_1000_student_hours: float

    @property
    def recall(self) -> float:
        """Share of true breaches detected (1 when there were none)."""
        return self.detected / self.breaches if self.breaches else 1.0

    @property
    def precision(self) -> float:
        """Share of alerts that match a true breach (1 when there were none)."""
        return (self.alerts - self.false_alerts) / self.alerts if self.alerts else 1.0


def walkable_zone_of(
    index: ZoneIndex,
    level: npt.NDArray[np.int32],
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
) -> list[str]:
    """The smallest walkable zone containing each point ("" where none does)."""
    hits = index.query(level, x, y, distances=False)
    out = []
    for i in range(len(hits)):
        zones = [index.zone(int(z)) for z in hits.zone[hits.offsets[i] : hits.offsets[i + 1]]]
        walkable = [z for z in zones if z.kind not in CONTAINER_KINDS]
        out.append(min(walkable, key=lambda z: (z.polygon.area, z.id)).id if walkable else "")
    return out


def score_positions(
    fixes: PositionBatch,
    fix_tags: Sequence[str],
    truth: Segments,
    truth_tags: Sequence[str],
    zone_ids: Sequence[str],
    index: ZoneIndex,
    followed: set[str],
) -> Positioning:
    """Accuracy of the fixes of badges in `followed` (tags whose badge followed its wearer)."""
    code = {tag: i for i, tag in enumerate(truth_tags)}
    person = np.array([code.get(t, -1) if t in followed else -1 for t in fix_tags], dtype=np.int64)
    of_fix = person[fixes.tag] if len(fixes) else np.empty(0, np.int64)
    keep = of_fix >= 0
    t = fixes.t[keep]
    tag = of_fix[keep].astype(np.int32)
    x, y, level, zone = truth.at(tag, t)
    known = level >= 0
    fx, fy, fl = fixes.x[keep][known], fixes.y[keep][known], fixes.level[keep][known]
    error = np.hypot(fx - x[known], fy - y[known])
    if not len(error):
        return Positioning(0, float("nan"), float("nan"), float("nan"), float("nan"))
    floor_ok = fl == level[known]
    on_zone = zone[known] >= 0
    fix_zone = walkable_zone_of(index, fl[on_zone], fx[on_zone], fy[on_zone])
    true_zone = [zone_ids[z] for z in zone[known][on_zone].tolist()]
    room_ok = np.array([a == b for a, b in zip(fix_zone, true_zone, strict=True)], dtype=bool)
    return Positioning(
        fixes=len(error),
        median_error_m=float(np.median(error)),
        p90_error_m=float(np.percentile(error, 90)),
        room_accuracy=float(room_ok.mean()) if len(room_ok) else float("nan"),
        floor_accuracy=float(floor_ok.mean()),
    )


def raised(alerts: Sequence[Alert]) -> list[Alert]:
    """Each alert once, as first raised."""
    seen: set[str] = set()
    out = []
    for a in alerts:
        if a.state is AlertState.RAISED and a.id not in seen:
            seen.add(a.id)
            out.append(a)
    return out


def score_breaches(
    rule: str, breaches: Sequence[Breach], alerts: Sequence[Alert], student_hours: float
) -> BreachScore:
    """Recall, precision and delay of one rule's alerts against its true breaches."""
    mine = [b for b in breaches if b.rule == rule]
    fired = [a for a in raised(alerts) if a.rule.split("/")[0] == rule]
    used: set[int] = set()
    delays = []
    for b in mine:
        for k, a in enumerate(fired):
            if k in used or a.tag != b.tag or (a.zone and a.zone != b.zone):
                continue
            if b.t_start <= a.t <= b.t_end + LATE_MATCH_S:
                used.add(k)
                delays.append(a.t - b.t)
                break
    false = len(fired) - len(used)
    return BreachScore(
        rule=rule,
        breaches=len(mine),
        detected=len(delays),
        alerts=len(fired),
        false_alerts=false,
        median_delay_s=float(np.median(delays)) if delays else float("nan"),
        p90_delay_s=float(np.percentile(delays, 90)) if delays else float("nan"),
        false_per_1000_student_hours=1000.0 * false / student_hours
        if student_hours
        else float("nan"),
    )
