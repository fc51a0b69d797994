"""Positioning accuracy of a survey: the engine's fixes against the truth, beside baselines.

What `sts accuracy` measures (docs/positioning.md, "Measuring accuracy"): every 1 s fix of
the engine is compared with the true position interpolated to the fix time; two baselines
are computed on the same fixes (same tags, same times): a weighted centroid of the 4
strongest readers and plain least squares (no tracking, 1 s mean, every reader heard).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from engine.batches import PositionBatch, ReadingBatch
from engine.locate import LocatorConfig, locate_all
from engine.windowing import Statistic, WindowSpec, first_reading_phases, window_readings
from geometry.model import Floorplan, ReaderCalibration, Zone, ZoneKind
from geometry.zone_index import ZoneIndex
from sts.readings_csv import Truth
from sts.survey_fit import truth_at

#: A fix is scored when the truth has a sample within this many seconds of it.
MAX_TRUTH_GAP_S = 1.0
#: Zone kinds that count as a room for room-level accuracy.
ROOM_KINDS = frozenset(
    k for k in ZoneKind if k not in (ZoneKind.BUILDING, ZoneKind.SAFE_AREA, ZoneKind.MUSTER_POINT)
)
CENTROID_K = 4


@dataclass(frozen=True, slots=True)
class Fixes:
    """Estimated positions with their truth, one row per scored fix."""

    t: npt.NDArray[np.float64]
    tag: npt.NDArray[np.int32]
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    level: npt.NDArray[np.int32]  # index into the floorplan's levels
    radius: npt.NDArray[np.float64]  # reported uncertainty, m (NaN: the method has none)
    true_x: npt.NDArray[np.float64]
    true_y: npt.NDArray[np.float64]
    true_level: npt.NDArray[np.int32]  # -1 where the truth gives no level

    @property
    def error(self) -> npt.NDArray[np.float64]:
        """Horizontal error of each fix, m."""
        return np.asarray(np.hypot(self.x - self.true_x, self.y - self.true_y))

    def take(self, rows: npt.NDArray[np.int64]) -> Fixes:
        """The given rows."""
        return Fixes(*(getattr(self, f)[rows] for f in self.__slots__))


@dataclass(frozen=True, slots=True)
class Scores:
    """The summary figures of one method on the scored fixes."""

    fixes: int
    median_m: float
    p90_m: float
    coverage_1x: float | None  # share of fixes within the reported radius
    coverage_2x: float | None
    room_accuracy: float | None  # share of fixes in the true room (truth inside a room)
    floor_accuracy: float | None  # share of fixes on the true level (truth gives levels)


@dataclass(frozen=True, slots=True)
class Survey:
    """A parsed survey: readings, truth and the calibration to locate them with."""

    floorplan: Floorplan
    batch: ReadingBatch
    truth: Truth
    calibration: Mapping[str, ReaderCalibration] = field(default_factory=dict)
    config: LocatorConfig = field(default_factory=LocatorConfig)


def engine_positions(survey: Survey) -> PositionBatch:
    """The engine's fixes, as `sts locate` makes them (readings in time order)."""
    batch = survey.batch.take(np.argsort(survey.batch.t, kind="stable"))
    positions, _ = locate_all(survey.floorplan, batch, survey.calibration, survey.config)
    return positions


def least_squares_positions(survey: Survey) -> PositionBatch:
    """Plain least squares: the same solver on 1 s means of every reader, no tracking,
    path loss alone (no body, wall or radio map correction: the baseline stays plain)."""
    window = WindowSpec(
        interval=1.0,
        window=1.0,
        top_k=12,
        statistic=Statistic.MEAN,
        phases=survey.config.window.phases,  # the engine's fix times: the same fixes
    )
    config = replace(
        survey.config,
        tracking=False,
        window=window,
        gain=None,
        body_db=0.0,
        wall_db=0.0,
        radio_map=None,
    )
    batch = survey.batch.take(np.argsort(survey.batch.t, kind="stable"))
    positions, _ = locate_all(survey.floorplan, batch, survey.calibration, config)
    return positions


def centroid_positions(survey: Survey) -> PositionBatch:
    """Power-weighted centroid of the 4 strongest readers' positions, 1 s windows of mean RSSI."""
    readers = survey.floorplan.readers
    batch = survey.batch
    if len(batch) == 0:
        return PositionBatch.empty()
    spec = WindowSpec(
        interval=1.0,
        window=1.0,
        top_k=CENTROID_K,
        statistic=Statistic.MEAN,
        phases=survey.config.window.phases,
    )
    k0 = spec.step_at_or_before(float(batch.t.min()))
    k1 = spec.step_at_or_before(float(batch.t.max()) + spec.window)
    phase = first_reading_phases(batch.tag, batch.t, spec, int(batch.tag.max()) + 1)
    w = window_readings(batch, len(readers), spec, k0, k1, phase_of=phase)
    xy = np.array([[r.x, r.y] for r in readers], np.float64)
    used = np.arange(CENTROID_K)[None, :] < w.count[:, None]
    weight = np.where(used, 10.0 ** (np.nan_to_num(w.rssi, nan=-200.0) / 10.0), 0.0)
    at = xy[np.maximum(w.reader, 0)]
    total = weight.sum(1)
    x = (weight * at[:, :, 0]).sum(1) / total
    y = (weight * at[:, :, 1]).sum(1) / total
    level_of = {lv.id: i for i, lv in enumerate(survey.floorplan.levels)}
    reader_level = np.array([level_of.get(r.level, 0) for r in readers], np.int32)
    level = reader_level[np.maximum(w.reader[:, 0], 0)]
    nan = np.full(len(w), np.nan)
    return PositionBatch.from_arrays(w.t, w.tag, level, x, y, nan)


def common_fixes(survey: Survey, methods: Mapping[str, PositionBatch]) -> dict[str, Fixes]:
    """Each method's fixes at the (tag, time) pairs every method has and the truth covers."""
    keys = [_keys(p) for p in methods.values()]
    shared = keys[0]
    for k in keys[1:]:
        shared = np.intersect1d(shared, k)
    out = {}
    for name, positions in methods.items():
        rows = np.flatnonzero(np.isin(_keys(positions), shared))
        rows = rows[np.lexsort((positions.tag[rows], positions.t[rows]))]
        out[name] = _with_truth(survey, positions.take(rows))
    good = np.ones(len(shared), bool)
    for fixes in out.values():
        good &= np.isfinite(fixes.true_x)
    return {name: fixes.take(np.flatnonzero(good)) for name, fixes in out.items()}


def _keys(positions: PositionBatch) -> npt.NDArray[np.int64]:
    """One integer per (tag, time in ms) of a position batch."""
    ms = np.round(positions.t * 1000.0).astype(np.int64)
    return positions.tag.astype(np.int64) * (1 << 42) + ms


def _with_truth(survey: Survey, positions: PositionBatch) -> Fixes:
    """Positions with their interpolated truth (NaN where the truth has no sample near)."""
    x, y, ok = truth_at(survey.truth, positions.tag, positions.t, MAX_TRUTH_GAP_S)
    x[~ok] = np.nan
    y[~ok] = np.nan
    return Fixes(
        positions.t,
        positions.tag,
        positions.x,
        positions.y,
        positions.level,
        positions.uncertainty,
        x,
        y,
        _true_levels(survey, positions),
    )


def _true_levels(survey: Survey, positions: PositionBatch) -> npt.NDArray[np.int32]:
    """The level index of the truth row nearest in time to each fix (-1: none given)."""
    truth = survey.truth
    out = np.full(len(positions), -1, np.int32)
    if not any(truth.level):
        return out
    index = {lv.id: i for i, lv in enumerate(survey.floorplan.levels)}
    levels = np.array([index.get(v, -1) for v in truth.level], np.int32)
    for code in np.unique(positions.tag).tolist():
        rows = np.flatnonzero(truth.tag == code)
        mine = np.flatnonzero(positions.tag == code)
        if len(rows) == 0:
            continue
        rows = rows[np.argsort(truth.t[rows], kind="stable")]
        j = np.clip(np.searchsorted(truth.t[rows], positions.t[mine]), 0, len(rows) - 1)
        out[mine] = levels[rows[j]]
    return out


def room_of(
    index: ZoneIndex,
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    level: npt.NDArray[np.int32],
) -> npt.NDArray[np.int64]:
    """The number in `index` of the smallest room (`is_room`) containing each point on its
    level (-1: in no room), by the zone index's rule: a room holds its edges, so a fix
    the solver stops on an outer wall is in the room inside it."""
    return index.smallest(level, x, y, is_room)


def is_room(zone: Zone) -> bool:
    """A zone a person can be in that counts as a room (not one marked walkable: false)."""
    return zone.kind in ROOM_KINDS and zone.properties.get("walkable") is not False


def has_rooms(floorplan: Floorplan) -> bool:
    """True when the floorplan has more than one room to tell apart."""
    return sum(1 for z in floorplan.zones if is_room(z)) > 1


def score(floorplan: Floorplan, fixes: Fixes) -> Scores:
    """Median, p90, radius coverage, room and floor accuracy of one method's fixes."""
    n = len(fixes.t)
    err = fixes.error
    has_radius = n > 0 and bool(np.isfinite(fixes.radius).all())
    room = floor = None
    truth_level = np.where(fixes.true_level >= 0, fixes.true_level, fixes.level)
    if n and has_rooms(floorplan):
        index = ZoneIndex.from_floorplan(floorplan)
        true_room = room_of(index, fixes.true_x, fixes.true_y, truth_level)
        fix_room = room_of(index, fixes.x, fixes.y, fixes.level)
        scored = true_room >= 0
        room = float(np.mean(fix_room[scored] == true_room[scored])) if scored.any() else None
    if n and len(floorplan.levels) > 1 and (fixes.true_level >= 0).any():
        known = fixes.true_level >= 0
        floor = float(np.mean(fixes.level[known] == fixes.true_level[known]))
    return Scores(
        fixes=n,
        median_m=float(np.median(err)) if n else float("nan"),
        p90_m=float(np.percentile(err, 90)) if n else float("nan"),
        coverage_1x=float(np.mean(err <= fixes.radius)) if has_radius else None,
        coverage_2x=float(np.mean(err <= 2 * fixes.radius)) if has_radius else None,
        room_accuracy=room,
        floor_accuracy=floor,
    )


def evaluate(survey: Survey) -> dict[str, Fixes]:
    """The engine's and the baselines' fixes on the same (tag, time) pairs."""
    methods = {
        "engine": engine_positions(survey),
        "weighted centroid (4 strongest)": centroid_positions(survey),
        "plain least squares": least_squares_positions(survey),
    }
    return common_fixes(survey, methods)
