"""Ground truth: where everyone really was, and the rule breaches that really happened.

The simulator logs every straight walk or stand of every person as a *segment*
(tag, t0, t1, from, to, level, walkable zone). That is the exact trajectory (positions
between t0 and t1 are on the straight line), the zone at every moment, and enough to
derive visits and breaches. Breaches are derived from visits with the campus rules:
`restricted_zone` (a student in a matching zone longer than the rule's grace),
`safe_area_left` (outside every safe area longer than the grace, in school hours) and
`dwell_limit` (in a matching zone longer than the limit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.rules import Rule, RulesConfig, RuleType
from engine.schedule import SchoolCalendar
from geometry.model import Zone, ZoneKind

#: Columns of a segment row, in the order `SegmentLog.add` takes them.
SEGMENT_FIELDS = ("tag", "t0", "t1", "x0", "y0", "x1", "y1", "level", "zone")


@dataclass(frozen=True, slots=True)
class Segments:
    """Segments as columns (`zone` -1: off every walkable zone, e.g. off campus)."""

    tag: npt.NDArray[np.int32]
    t0: npt.NDArray[np.float64]
    t1: npt.NDArray[np.float64]
    x0: npt.NDArray[np.float64]
    y0: npt.NDArray[np.float64]
    x1: npt.NDArray[np.float64]
    y1: npt.NDArray[np.float64]
    level: npt.NDArray[np.int32]
    zone: npt.NDArray[np.int32]

    def __len__(self) -> int:
        return len(self.tag)

    @classmethod
    def concat(cls, parts: Sequence[Segments]) -> Segments:
        """Several logs' rows, in order."""
        if not parts:
            return SegmentLog().take()
        columns = {f: np.concatenate([getattr(p, f) for p in parts]) for f in SEGMENT_FIELDS}
        return cls(**columns)

    def at(
        self, tag: npt.NDArray[np.int32], t: npt.NDArray[np.float64]
    ) -> tuple[
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.int32],
        npt.NDArray[np.int32],
    ]:
        """True (x, y, level, zone) of each (tag, t); level and zone -1 where no segment is."""
        if len(self) == 0:
            nothing = np.full(len(t), -1, dtype=np.int32)
            return np.full(len(t), np.nan), np.full(len(t), np.nan), nothing, nothing
        # One sorted key per segment: tag first, then start time (both exact in float64).
        base = min(float(self.t0.min()), float(t.min()) if len(t) else np.inf)
        span = max(float(self.t1.max()), float(t.max()) if len(t) else -np.inf) - base + 1.0
        key = self.tag * span + (self.t0 - base)
        order = np.argsort(key, kind="stable")
        pos = np.searchsorted(key[order], tag * span + (t - base), side="right") - 1
        idx = order[np.clip(pos, 0, None)]
        ok = (pos >= 0) & (self.tag[idx] == tag)
        length = self.t1[idx] - self.t0[idx]
        f = np.clip((t - self.t0[idx]) / np.where(length > 0, length, 1.0), 0.0, 1.0)
        x = self.x0[idx] + (self.x1[idx] - self.x0[idx]) * f
        y = self.y0[idx] + (self.y1[idx] - self.y0[idx]) * f
        level = np.where(ok, self.level[idx], -1).astype(np.int32)
        zone = np.where(ok, self.zone[idx], -1).astype(np.int32)
        return x, y, level, zone


class SegmentLog:
    """Segments as they happen; `take()` hands over what was added since the last take."""

    def __init__(self) -> None:
        self._rows: list[tuple[int, float, float, float, float, float, float, int, int]] = []

    def add(
        self,
        tag: int,
        t0: float,
        t1: float,
        x0: float,
        y0: float,
        x1: float,
        y1: float,
        level: int,
        zone: int,
    ) -> None:
        """One segment (one row per straight walk or stand)."""
        self._rows.append((tag, t0, t1, x0, y0, x1, y1, level, zone))

    def take(self) -> Segments:
        """The rows added since the last call, as columns."""
        rows, self._rows = self._rows, []
        if not rows:
            cols: list[np.ndarray] = [np.empty(0)] * len(SEGMENT_FIELDS)
        else:
            cols = list(np.array(rows, dtype=np.float64).T)
        return Segments(
            cols[0].astype(np.int32),
            cols[1],
            cols[2],
            cols[3],
            cols[4],
            cols[5],
            cols[6],
            cols[7].astype(np.int32),
            cols[8].astype(np.int32),
        )


@dataclass(frozen=True, slots=True)
class Visit:
    """One stay of one person in one walkable zone (zone -1: off every zone)."""

    tag: int
    zone: int
    t_in: float
    t_out: float


def visits_of(segments: Segments) -> list[Visit]:
    """Consecutive segments of a person in one zone, merged into visits."""
    order = np.lexsort((segments.t0, segments.tag))
    out: list[Visit] = []
    tag, zone, t0, t1 = -1, -2, 0.0, 0.0
    for i in order.tolist():
        s_tag, s_zone = int(segments.tag[i]), int(segments.zone[i])
        if s_tag == tag and s_zone == zone:
            t1 = float(segments.t1[i])
            continue
        if tag >= 0:
            out.append(Visit(tag, zone, t0, float(segments.t0[i]) if s_tag == tag else t1))
        tag, zone, t0, t1 = s_tag, s_zone, float(segments.t0[i]), float(segments.t1[i])
    if tag >= 0:
        out.append(Visit(tag, zone, t0, t1))
    return out


@dataclass(frozen=True, slots=True)
class Breach:
    """A rule breach that really happened: from `t` (when the rule should fire) to `t_end`."""

    rule: str
    tag: str
    zone: str
    t_start: float  # the person entered the zone (or left the safe area)
    t: float  # t_start + the rule's grace: when an alert is due
    t_end: float


def _matches(rule: Rule, zone: Zone) -> bool:
    if rule.zones and zone.id in rule.zones:
        return True
    return (
        bool(rule.kinds)
        and zone.kind in rule.kinds
        and (not rule.levels or zone.level in rule.levels)
    )


def true_breaches(
    visits: Sequence[Visit],
    zones: Sequence[Zone],
    tags: Sequence[str],
    groups: Sequence[str],
    rules: RulesConfig,
    calendar: SchoolCalendar | None,
) -> list[Breach]:
    """Breaches of the restricted-zone, safe-area and dwell rules, in time order."""
    out: list[Breach] = []
    safe = [z.polygon for z in zones if z.kind == ZoneKind.SAFE_AREA]
    outside = {
        i
        for i, z in enumerate(zones)
        if safe and not any(s.contains(z.polygon.representative_point()) for s in safe)
    }
    for rule in rules.rules:
        for v in visits:
            group = groups[v.tag]
            if group in rules.alert_only_groups and RuleType(rule.type) != RuleType.RESTRICTED_ZONE:
                continue
            if rule.groups and group not in rule.groups:
                continue
            if not rule.groups and group in rules.alert_only_groups:
                continue
            breach = _breach(rule, v, zones, outside, calendar)
            if breach is not None:
                out.append(Breach(rule.id, tags[v.tag], *breach))
    out.sort(key=lambda b: (b.t, b.tag, b.rule))
    return out


def _in_hours(rule: Rule, calendar: SchoolCalendar | None, t: float) -> bool:
    if rule.when == "always" or calendar is None:
        return True
    inside = calendar.in_school_hours(t)
    return inside if rule.when == "school_hours" else not inside


def _breach(
    rule: Rule, v: Visit, zones: Sequence[Zone], outside: set[int], calendar: SchoolCalendar | None
) -> tuple[str, float, float, float] | None:
    """(zone, start, due, end) when this visit breaks the rule, else None."""
    if rule.type == RuleType.RESTRICTED_ZONE or rule.type == RuleType.DWELL_LIMIT:
        if v.zone < 0 or not _matches(rule, zones[v.zone]):
            return None
        due = v.t_in + rule.after_s
        if v.t_out > due and _in_hours(rule, calendar, due):
            return zones[v.zone].id, v.t_in, due, v.t_out
        return None
    if rule.type == RuleType.SAFE_AREA_LEFT:
        if v.zone not in outside:
            return None
        due = v.t_in + rule.after_s
        hours = calendar is None or calendar.in_school_hours(due)
        if v.t_out > due and hours:
            return zones[v.zone].id, v.t_in, due, v.t_out
    return None
