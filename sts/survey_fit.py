"""Path-loss calibration from a survey: readings with known positions -> per-reader fits."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from engine import body_shadow
from engine.batches import ReadingBatch
from engine.gain_offset import GainSpec
from engine.locate import RSSI_MAX, RSSI_MIN, Locator, LocatorConfig, locate_all
from engine.radio_map import RadioMap, Residuals, Smoothing, smooth_residuals
from engine.uncertainty import MAX_PER_GAIN_DB, RadiusModel
from engine.wall_loss import WallMap
from engine.windowing import Statistic, WindowSpec
from geometry.calibration import (
    Calibration,
    fit_path_loss,
)
from geometry.errors import InputError
from geometry.model import Floorplan, ReaderCalibration
from geometry.walls import RasterFrame
from sts.readings_csv import Truth

DEFAULT_TAG_HEIGHT = 1.2
#: A reading is used when the truth has a position within this many seconds of it.
MAX_TRUTH_GAP_S = 2.0
#: Readings of walking tags a body-loss fit needs.
MIN_WALKING_READINGS = 200
#: A body-loss fit below this is taken as none: a survey without a body in front of the
#: badge fits 0.2-0.8 dB (tetam-ble's leave-one-out folds, benchmarks/RESULTS.md).
MIN_BODY_DB = 1.5
MAX_BODY_DB = 20.0
#: A wall-loss fit below this is taken as none, and one needs readings whose walls vary
#: by this much (variance per reading) for a given distance: a one-room survey has none.
MIN_WALL_DB = 1.0
MAX_WALL_DB = 20.0
MIN_WALL_SPREAD = 0.05
#: The survey's median error must drop by this share for the wall term to be kept.
MIN_WALL_GAIN = 0.03
#: The radio map `sts calibrate` fits: residuals smoothed over 2 m and shrunk by 20
#: readings' worth of weight, on 0.5 m cells (bandwidths of 1-3 m and shrinks of 20-300
#: were within 5 cm of each other held out; benchmarks/RESULTS.md, "A radio map from
#: the site survey").
RADIO_MAP = Smoothing(bandwidth_m=2.0, shrink=20.0, cell_m=0.5)
#: Survey walks are held out in at most this many groups to judge the map.
MAP_FOLDS = 5
#: The map is kept where it takes at least this share off the mean error of survey
#: walks it was not fitted on. The mean, not the median: a map corrects places (a corner,
#: a room), and the median of a whole site's fixes barely moves when one corner's do.
MIN_MAP_GAIN = 0.0
#: The window statistics a survey chooses between, the default first (kept on a tie): the
#: upper quartile of each reader's readings resists the deep fades of a body in the way;
#: the mean averages out noise where fades are few. Per site the better one has a median
#: error of unseen walks 5-25% under the other's (benchmarks/RESULTS.md, "The window
#: statistic chosen by the survey").
WINDOW_CANDIDATES = {
    "quantile": WindowSpec(),
    "mean": WindowSpec(statistic=Statistic.MEAN),
}
#: What becomes of the window statistic: chosen on the survey, or one of the candidates.
WindowMode = Literal["fit", "quantile", "mean"]
#: The gain offset estimate `sts calibrate` turns on (its reference fitted on the survey).
DEFAULT_GAIN = GainSpec()
#: Share of the survey's fixes the reported radius is fitted to hold, percent: a 1-sigma
#: radius, as documented. Held out, coverage lands 0-7 points under it on every data set
#: here (benchmarks/RESULTS.md, "The window statistic chosen by the survey"), inside the
#: 60-75% the radius is held to.
RADIUS_PERCENTILE = 68.0
#: Survey fixes with the gain estimate beyond its band needed to fit the radius's
#: widening there (fewer: none fitted).
MIN_BEYOND_BAND_FIXES = 30


def truth_at(
    truth: Truth,
    tag: npt.NDArray[np.int32],
    t: npt.NDArray[np.float64],
    max_gap: float = MAX_TRUTH_GAP_S,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Truth x, y of each (tag, t), linearly interpolated; ok False where the nearest truth
    sample of the tag is more than `max_gap` seconds away."""
    x = np.full(len(t), np.nan)
    y = np.full(len(t), np.nan)
    ok = np.zeros(len(t), bool)
    for code in np.unique(tag).tolist():
        rows = np.flatnonzero(truth.tag == code)
        if len(rows) == 0:
            continue
        order = rows[np.argsort(truth.t[rows], kind="stable")]
        tt = truth.t[order]
        mine = np.flatnonzero(tag == code)
        q = t[mine]
        x[mine] = np.interp(q, tt, truth.x[order])
        y[mine] = np.interp(q, tt, truth.y[order])
        # Distance in time to the nearest truth sample on either side.
        j = (
            np.clip(np.searchsorted(tt, q), 1, len(tt) - 1)
            if len(tt) > 1
            else np.zeros(len(q), np.int64)
        )
        gap = np.minimum(np.abs(q - tt[j]), np.abs(q - tt[np.maximum(j - 1, 0)]))
        ok[mine] = gap <= max_gap
    return x, y, ok


def survey_walls(
    floorplan: Floorplan,
    batch: ReadingBatch,
    calibration: Mapping[str, ReaderCalibration],
    tag_height: float,
) -> npt.NDArray[np.float64]:
    """Walls (engine/wall_loss.py) between each reading's reader and where the locator
    puts its tag (the raw fix nearest in time, each surveyed tag located on its own with
    `calibration`); NaN where the tag has no fix."""
    walls = WallMap.from_floorplan(floorplan)
    config = LocatorConfig(tag_height=tag_height, tracking=False, gain=None)
    out = np.full(len(batch), np.nan)
    for code in np.unique(batch.tag).tolist():
        rows = np.flatnonzero(batch.tag == code)
        mine = batch.take(rows)
        order = np.argsort(mine.t, kind="stable")
        fixes, _ = locate_all(floorplan, mine.take(order), calibration, config)
        if len(fixes) == 0:
            continue
        j = np.clip(np.searchsorted(fixes.t, mine.t, side="right") - 1, 0, len(fixes) - 1)
        at = np.column_stack((fixes.x[j], fixes.y[j]))
        reader = mine.reader[:, None].astype(np.int32)
        out[rows] = walls.walls(fixes.level[j].astype(np.int32), at, reader)[:, 0]
    return out


def fit_wall_db(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    walls: npt.NDArray[np.float64],
    tag_height: float,
) -> float:
    """The loss per wall between badge and reader (engine/wall_loss.py) as the locator
    will see it, dB: `walls` counted where the locator puts each reading's tag
    (`survey_walls`: it never knows the true position), the readings' distances true.

    Per reader, readings and walls are both freed of what log-distance explains (least
    squares on 1 and log10 d within the reader: the wall term must not soak up the
    distance slope); the loss is minus the slope of one on the other over every reader.
    Walls counted at a fix are noisier than the true ones, so this is less than the loss
    itself, and closer to what corrects best (as `fit_body_db`). 0 when the fixes see too
    few walls to tell (one room) or the loss is under MIN_WALL_DB.
    """
    d, ok = survey_distances(floorplan, batch, truth, tag_height)
    ok &= np.isfinite(walls)
    u = -10.0 * np.log10(np.maximum(d, 0.1))
    rssi = batch.rssi.astype(np.float64)
    along, spread = 0.0, 0.0
    for reader in np.unique(batch.reader[ok]).tolist():
        rows = np.flatnonzero(ok & (batch.reader == reader))
        design = np.column_stack((np.ones(len(rows)), u[rows]))
        free_walls = walls[rows] - design @ np.linalg.lstsq(design, walls[rows], rcond=None)[0]
        free_rssi = rssi[rows] - design @ np.linalg.lstsq(design, rssi[rows], rcond=None)[0]
        along += float(free_walls @ free_rssi)
        spread += float(free_walls @ free_walls)
    if spread < MIN_WALL_SPREAD * max(int(ok.sum()), 1):
        return 0.0
    loss = -along / spread
    return min(loss, MAX_WALL_DB) if loss >= MIN_WALL_DB else 0.0


def fit_walls(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    tag_height: float = DEFAULT_TAG_HEIGHT,
    min_samples: int = 30,
) -> tuple[float, Calibration]:
    """The loss per wall and the path-loss fits that go with it (fitted on the readings
    with the walls' loss put back): what `sts calibrate` writes.

    The wall term is kept only where it locates the survey's own tags better (median
    error at least MIN_WALL_GAIN lower): where walls and distance are too entangled to
    tell apart (a small flat whose readers sit in its rooms' corners) a fitted loss moves
    fixes the wrong way. 0 and the plain fits otherwise.
    """
    plain = fit_survey(floorplan, batch, truth, tag_height, min_samples)
    if not WallMap.from_floorplan(floorplan).walled:
        return 0.0, plain  # one room: no survey walk can see a wall
    ids = [r.id for r in floorplan.readers]
    walls = survey_walls(floorplan, batch, _by_id(plain, ids), tag_height)
    loss = fit_wall_db(floorplan, batch, truth, walls, tag_height)
    if loss == 0.0:
        return 0.0, plain
    walled = _fit_through_walls(floorplan, batch, truth, walls * loss, tag_height, min_samples)
    plain_error = _survey_error(floorplan, batch, truth, _by_id(plain, ids), tag_height, 0.0)
    walled_error = _survey_error(floorplan, batch, truth, _by_id(walled, ids), tag_height, loss)
    if walled_error <= (1.0 - MIN_WALL_GAIN) * plain_error:
        return loss, walled
    return 0.0, plain


def _fit_through_walls(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    through_db: npt.NDArray[np.float64],
    tag_height: float,
    min_samples: int,
) -> Calibration:
    """The path-loss fits of the readings with `through_db` (the walls' loss; NaN: no
    fix to count walls from) put back."""
    corrected = ReadingBatch(
        batch.t,
        batch.tag,
        batch.reader,
        (batch.rssi + np.nan_to_num(through_db)).astype(np.float32),
    )
    return fit_survey(floorplan, corrected, truth, tag_height, min_samples)


def _fit_fold(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    tag_height: float,
    min_samples: int,
    wall_db: float,
) -> dict[str, ReaderCalibration]:
    """Path-loss fits of part of a survey as `fit_walls` makes them for a loss per wall
    already chosen (0: the plain fits)."""
    ids = [r.id for r in floorplan.readers]
    plain = fit_survey(floorplan, batch, truth, tag_height, min_samples)
    if wall_db == 0.0:
        return _by_id(plain, ids)
    walls = survey_walls(floorplan, batch, _by_id(plain, ids), tag_height)
    fits = _fit_through_walls(floorplan, batch, truth, walls * wall_db, tag_height, min_samples)
    return _by_id(fits, ids)


def fit_window(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    config: LocatorConfig,
    min_samples: int = 30,
) -> WindowSpec:
    """The window statistic (`WINDOW_CANDIDATES`) that locates survey walks best where
    nothing was fitted on them.

    The survey's walks are held out in groups as for the radio map (`_walk_folds`); each
    group is located under each candidate with the path loss, and the radio map where
    `config` has one, fitted on the other walks (the loss per wall and the body's as in
    `config`, no gain offset estimate). Fitted on the walks it locates, the path loss
    flatters whichever statistic its own readings' noise favours: on a simulated campus
    that picked the mean, which lost 0.1-1.2 m median on unseen days. The candidate with
    the lowest mean error of those fixes is kept, the default on a tie or when no fold
    gives a fix.
    """
    candidates = list(WINDOW_CANDIDATES.values())
    errors: list[list[npt.NDArray[np.float64]]] = [[] for _ in candidates]
    for held in _walk_folds(batch):
        train = batch.take(np.flatnonzero(~held))
        try:
            fits = _fit_fold(
                floorplan, train, truth, config.tag_height, min_samples, config.wall_db
            )
        except InputError:
            continue  # the other walks have no reading with a truth: nothing to judge
        fold_map = None
        if config.radio_map is not None:
            residuals, ok = survey_residuals(
                floorplan, train, truth, fits, config.tag_height, config.wall_db
            )
            fold_map = radio_map_of(floorplan, residuals, ok)
        part = batch.take(np.flatnonzero(held))
        for found, window in zip(errors, candidates, strict=True):
            judged = replace(config, window=window, gain=None, radio_map=fold_map)
            found.append(_survey_errors(floorplan, part, truth, fits, judged))
    means = [_mean_or_inf(found) for found in errors]
    best = int(np.argmin(means))  # the first of equals: the default
    return candidates[best] if np.isfinite(means[best]) else WindowSpec()


def _mean_or_inf(parts: list[npt.NDArray[np.float64]]) -> float:
    """Mean of the concatenated arrays (inf when they hold nothing)."""
    values = np.concatenate(parts) if parts else np.empty(0)
    return float(np.mean(values)) if len(values) else float("inf")


def _by_id(cal: Calibration, ids: list[str]) -> dict[str, ReaderCalibration]:
    """Per-reader fits by reader id."""
    return {rid: cal.reader(i) for i, rid in enumerate(ids)}


def _survey_error(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    calibration: Mapping[str, ReaderCalibration],
    tag_height: float,
    wall_db: float,
) -> float:
    """Median error of the survey's own tags, each located on its own (inf: no fix)."""
    config = LocatorConfig(tag_height=tag_height, wall_db=wall_db, gain=None)
    error = _survey_errors(floorplan, batch, truth, calibration, config)
    return float(np.median(error)) if len(error) else float("inf")


def _survey_errors(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    calibration: Mapping[str, ReaderCalibration],
    config: LocatorConfig,
) -> npt.NDArray[np.float64]:
    """Errors of the fixes of the survey's tags, each located on its own."""
    return _survey_radii(floorplan, batch, truth, calibration, config)[0]


def survey_residuals(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    calibration: Mapping[str, ReaderCalibration],
    tag_height: float,
    wall_db: float = 0.0,
) -> tuple[Residuals, npt.NDArray[np.bool_]]:
    """What each survey reading differs from the model by at its true position, dB (the
    walls' loss put back, as the locator puts it back), and which readings have one (a
    truth in time and, on a site of several levels, a truth level)."""
    d, ok = survey_distances(floorplan, batch, truth, tag_height)
    x, y, _ = truth_at(truth, batch.tag, batch.t)
    level = _survey_levels(floorplan, truth, batch)
    ok &= level >= 0
    cal = [calibration[r.id] for r in floorplan.readers]
    rssi_1m = np.array([c.rssi_1m for c in cal])
    exponent = np.array([c.exponent for c in cal])
    reader = batch.reader.astype(np.int64)
    modelled = rssi_1m[reader] - 10.0 * exponent[reader] * np.log10(np.maximum(d, 0.1))
    residual = batch.rssi.astype(np.float64) - modelled
    if wall_db > 0:
        at = np.where(ok[:, None], np.column_stack((x, y)), np.nan)
        walls = WallMap.from_floorplan(floorplan).walls(
            np.maximum(level, 0).astype(np.int32), at, batch.reader[:, None].astype(np.int32)
        )
        residual += wall_db * walls[:, 0]
    return Residuals(x, y, level, reader, residual), ok


def _survey_levels(
    floorplan: Floorplan, truth: Truth, batch: ReadingBatch
) -> npt.NDArray[np.int64]:
    """The level index of each reading's tag (the truth row nearest in time): 0 on a site
    of one level, -1 where a site of several has no known truth level."""
    if len(floorplan.levels) <= 1:
        return np.zeros(len(batch), np.int64)
    index = {lv.id: i for i, lv in enumerate(floorplan.levels)}
    levels = np.array([index.get(v, -1) for v in truth.level], np.int64)
    out = np.full(len(batch), -1, np.int64)
    for code in np.unique(batch.tag).tolist():
        rows = np.flatnonzero(truth.tag == code)
        if len(rows) == 0:
            continue
        rows = rows[np.argsort(truth.t[rows], kind="stable")]
        mine = np.flatnonzero(batch.tag == code)
        j = np.clip(np.searchsorted(truth.t[rows], batch.t[mine]), 0, len(rows) - 1)
        out[mine] = levels[rows[j]]
    return out


def radio_map_of(
    floorplan: Floorplan,
    residuals: Residuals,
    keep: npt.NDArray[np.bool_],
    smoothing: Smoothing = RADIO_MAP,
) -> RadioMap:
    """The radio map of the kept residuals, its cells counted from the site's corner."""
    frame = RasterFrame.around(floorplan, smoothing.cell_m, margin_m=0.0)
    kept = Residuals(
        residuals.x[keep],
        residuals.y[keep],
        residuals.level[keep],
        residuals.reader[keep],
        residuals.db[keep],
    )
    shape = (max(1, len(floorplan.levels)), len(floorplan.readers))
    return smooth_residuals(kept, shape, (frame.x0, frame.y0), smoothing)


def fit_radio_map(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    calibration: Mapping[str, ReaderCalibration],
    tag_height: float = DEFAULT_TAG_HEIGHT,
    wall_db: float = 0.0,
) -> RadioMap | None:
    """The survey's radio map (engine/radio_map.py), or None where it does not help.

    A map fitted on a walk trivially helps that walk, so it is judged on walks it was
    not fitted on: the survey's tags in up to MAP_FOLDS groups (one tag: the two halves
    of its walk), each group located with the map of the others and without a map. The
    map of the whole survey is kept when the mean error of those fixes drops (by at
    least MIN_MAP_GAIN).
    """
    residuals, ok = survey_residuals(floorplan, batch, truth, calibration, tag_height, wall_db)
    plain = LocatorConfig(tag_height=tag_height, wall_db=wall_db, gain=None)
    without, with_map = [], []
    for held in _walk_folds(batch):
        fold_map = radio_map_of(floorplan, residuals, ok & ~held)
        part = batch.take(np.flatnonzero(held))
        mapped = replace(plain, radio_map=fold_map)
        without.append(_survey_errors(floorplan, part, truth, calibration, plain))
        with_map.append(_survey_errors(floorplan, part, truth, calibration, mapped))
    if not without:
        return None
    before, after = np.concatenate(without), np.concatenate(with_map)
    if len(after) == 0 or not np.mean(after) < (1.0 - MIN_MAP_GAIN) * np.mean(before):
        return None
    return radio_map_of(floorplan, residuals, ok)


def _walk_folds(batch: ReadingBatch) -> list[npt.NDArray[np.bool_]]:
    """Which readings each fold holds out: the tags in up to MAP_FOLDS groups, or the
    two halves in time of a survey of one tag (none for an empty survey)."""
    tags = np.unique(batch.tag)
    if len(tags) == 0:
        return []
    if len(tags) == 1:
        late = batch.t > np.median(batch.t)
        return [~late, late]
    of_reading = np.searchsorted(tags, batch.tag) % MAP_FOLDS
    return [of_reading == g for g in range(min(MAP_FOLDS, len(tags)))]


def survey_distances(
    floorplan: Floorplan, batch: ReadingBatch, truth: Truth, tag_height: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """3-D distance reader-tag of every reading, and which readings have a truth."""
    x, y, ok = truth_at(truth, batch.tag, batch.t)
    xyz = np.array([[r.x, r.y, r.z] for r in floorplan.readers], np.float64)
    r = xyz[batch.reader]
    d = np.sqrt((x - r[:, 0]) ** 2 + (y - r[:, 1]) ** 2 + (tag_height - r[:, 2]) ** 2)
    ok &= np.isfinite(batch.t) & (batch.rssi >= RSSI_MIN) & (batch.rssi <= RSSI_MAX)
    return d, ok


def calibrate(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    tag_height: float = DEFAULT_TAG_HEIGHT,
    min_samples: int = 30,
) -> tuple[ReaderCalibration, dict[str, ReaderCalibration]]:
    """The global fit and one fit per reader id, from a parsed survey."""
    cal = fit_survey(floorplan, batch, truth, tag_height, min_samples)
    return cal.global_, {r.id: cal.reader(i) for i, r in enumerate(floorplan.readers)}


def fit_survey(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    tag_height: float = DEFAULT_TAG_HEIGHT,
    min_samples: int = 30,
) -> Calibration:
    """The robust path-loss fits (geometry.calibration) of a parsed survey."""
    d, ok = survey_distances(floorplan, batch, truth, tag_height)
    if ok.sum() < 3:
        raise InputError(
            "calibration needs readings with a known position; fewer than 3 readings fall "
            f"within {MAX_TRUTH_GAP_S} s of a truth row of their tag: check the tag ids and times"
        )
    return fit_path_loss(
        d[ok],
        batch.rssi[ok].astype(np.float64),
        batch.reader[ok],
        len(floorplan.readers),
        min_samples=min_samples,
    )


def fit_body_db(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    calibration: Mapping[str, ReaderCalibration],
    tag_height: float,
    radio_map: RadioMap | None = None,
) -> float:
    """The wearer's body loss (engine/body_shadow.py) as the locator will see it (with
    `radio_map` on: the fixes corrected by it, the residuals taken after it).

    Each surveyed tag is located on its own without the correction; each reading's
    heading is its track's (the velocity between the fix before it and the one before
    that, as the locator knows it), its residual is taken at the true position, and the
    fit is twice the slope of residual on cos(heading, reader). A heading from a track is
    noisier than the wearer's own, so this is less than the loss itself, and it is what
    corrects best. 0 when the survey says the badge has no body in front (a robot, a
    badge on a pole) or too few readings come from walking.
    """
    reader_xy = np.array([[r.x, r.y] for r in floorplan.readers], np.float64)
    at_truth, known = survey_residuals(floorplan, batch, truth, calibration, tag_height)
    residual = at_truth.db
    if radio_map is not None:
        spot = np.column_stack((at_truth.x, at_truth.y))
        level = np.maximum(at_truth.level, 0).astype(np.int32)
        reader_code = batch.reader[:, None].astype(np.int32)
        residual = residual - radio_map.correction(level, spot, reader_code)[:, 0]
    config = LocatorConfig(tag_height=tag_height, radio_map=radio_map)
    cosines, residuals = [], []
    for code in np.unique(batch.tag).tolist():
        rows = np.flatnonzero(batch.tag == code)
        rows = rows[np.argsort(batch.t[rows], kind="stable")]
        mine = batch.take(rows)
        track, _ = locate_all(floorplan, mine, calibration, config)
        if len(track) < 3:
            continue
        step = np.maximum(np.diff(track.t), 1e-3)
        vx = np.concatenate(([np.nan], np.diff(track.x) / step))
        vy = np.concatenate(([np.nan], np.diff(track.y) / step))
        j = np.clip(np.searchsorted(track.t, mine.t, side="right") - 1, 0, len(track) - 1)
        at = np.column_stack((track.x[j], track.y[j]))
        velocity = np.column_stack((vx[j], vy[j]))
        cos = body_shadow.facing_cosine(reader_xy[mine.reader][:, None, :], at, velocity)[:, 0]
        keep = known[rows] & (cos != 0.0) & np.isfinite(residual[rows])
        cosines.append(cos[keep])
        residuals.append(residual[rows][keep])
    c = np.concatenate(cosines) if cosines else np.empty(0)
    r = np.concatenate(residuals) if residuals else np.empty(0)
    if len(c) < MIN_WALKING_READINGS or np.var(c) <= 0:
        return 0.0
    slope = np.mean((c - c.mean()) * (r - r.mean())) / np.var(c)
    body = float(2.0 * slope)
    return min(body, MAX_BODY_DB) if body >= MIN_BODY_DB else 0.0


def each_tag(batch: ReadingBatch) -> Iterator[tuple[int, ReadingBatch]]:
    """Each tag code of a survey with its readings in time order (survey walks may have
    been recorded at different times: each is located on its own)."""
    for code in np.unique(batch.tag).tolist():
        mine = batch.take(np.flatnonzero(batch.tag == code))
        yield code, mine.take(np.argsort(mine.t, kind="stable"))


def fit_uncertainty_scale(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    calibration: Mapping[str, ReaderCalibration],
    tag_height: float,
    config: LocatorConfig | None = None,
) -> float:
    """The factor that makes the reported radius hold about 68% of the survey's fixes,
    with no widening where the gain estimate is beyond its band."""
    args = (floorplan, batch, truth, calibration, tag_height, config)
    return fit_radius_model(*args, widen=False).scale


def fit_radius_model(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    calibration: Mapping[str, ReaderCalibration],
    tag_height: float,
    config: LocatorConfig | None = None,
    widen: bool = True,
) -> RadiusModel:
    """The reported radius's model (engine/uncertainty.py) fitted on the survey.

    Each surveyed tag is located on its own (survey walks may have been recorded at
    different times) with the fitted calibration and `config` (the default locator when
    None: fit for the configuration that will locate). The scale makes the radius hold
    68% of the survey's fixes; with the gain offset estimate on, the widening per dB
    beyond its band makes it hold 68% of the fixes beyond the band too (0 when those
    are covered without it, or fewer than MIN_BEYOND_BAND_FIXES; `widen` False: 0). The
    scale is 1.0 when the survey gives too few fixes to say.
    """
    base = replace(
        config or LocatorConfig(),
        tag_height=tag_height,
        uncertainty_scale=1.0,
        uncertainty_per_gain_db=0.0,
    )
    error, radius = _survey_radii(floorplan, batch, truth, calibration, base)
    if len(error) < 20:
        return RadiusModel()
    beyond = np.zeros(len(error))
    if base.gain is not None and widen:
        # A radius widened by 1 per dB beyond the band: its ratio to the plain one
        # gives each fix's dB beyond the band.
        unit = replace(base, uncertainty_per_gain_db=1.0)
        _, widened = _survey_radii(floorplan, batch, truth, calibration, unit)
        beyond = np.maximum(widened / radius - 1.0, 0.0)
    return fit_widening(error, radius, beyond)


def _survey_radii(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    calibration: Mapping[str, ReaderCalibration],
    config: LocatorConfig,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Error and reported radius of every survey fix with a truth, each tag on its own."""
    errors, radii = [], []
    for _, mine in each_tag(batch):
        positions, _ = locate_all(floorplan, mine, calibration, config)
        if len(positions) == 0:
            continue
        x, y, ok = truth_at(truth, positions.tag, positions.t)
        errors.append(np.hypot(positions.x - x, positions.y - y)[ok])
        radii.append(np.maximum(positions.uncertainty[ok], 1e-6))
    if not errors:
        return np.empty(0), np.empty(0)
    return np.concatenate(errors), np.concatenate(radii)


def fit_widening(
    error: npt.NDArray[np.float64],
    radius: npt.NDArray[np.float64],
    beyond_db: npt.NDArray[np.float64],
) -> RadiusModel:
    """Scale and widening per dB for fixes with these errors, filter radii and dB of
    the gain estimate beyond its band: RADIUS_PERCENTILE of all fixes and of those
    beyond the band (when there are enough) within the radius."""

    def scaled(per_gain_db: float) -> tuple[float, npt.NDArray[np.float64]]:
        shaped = radius * (1.0 + per_gain_db * beyond_db)
        scale = float(np.clip(np.percentile(error / shaped, RADIUS_PERCENTILE), 0.05, 20.0))
        return scale, shaped * scale

    def covered_beyond(per_gain_db: float) -> float:
        _, r = scaled(per_gain_db)
        return float(np.mean(error[out] <= r[out]) * 100.0)

    out = beyond_db > 0
    per_gain_db = 0.0
    if out.sum() >= MIN_BEYOND_BAND_FIXES and covered_beyond(0.0) < RADIUS_PERCENTILE:
        # Coverage beyond the band grows with the widening: bisect for the percentile.
        low, high = 0.0, MAX_PER_GAIN_DB
        for _ in range(40):
            mid = 0.5 * (low + high)
            low, high = (mid, high) if covered_beyond(mid) < RADIUS_PERCENTILE else (low, mid)
        per_gain_db = high
    return RadiusModel(scaled(per_gain_db)[0], per_gain_db)


def fit_gain_reference(
    floorplan: Floorplan,
    batch: ReadingBatch,
    calibration: Mapping[str, ReaderCalibration],
    tag_height: float,
    config: LocatorConfig | None = None,
) -> float:
    """The mean fix residual of the surveyed badges, dB: what the gain offset estimate
    (engine/gain_offset.py) must take as "no offset" at this site.

    Each surveyed tag is located on its own, raw fixes (no tracking) with the estimate
    summing each fix's residual and never applying it; the reference is the sum over
    every tag divided by the number of fixes. 0.0 when the survey gives no fix.
    """
    # Measured, never applied, at rate 1 with no bound: the plain sum of the residuals.
    summing = GainSpec(rate=1.0, limit_db=1e12, applies=False)
    config = replace(config or LocatorConfig(), tag_height=tag_height, tracking=False, gain=summing)
    total, fixes = 0.0, 0
    for code, mine in each_tag(batch):
        locator = Locator(floorplan, calibration, config)
        fixes += len(locator.process(mine))
        fixes += len(locator.flush())
        state = locator.gain_state_db()
        total += float(state[code]) if code < len(state) else 0.0
    return total / fixes if fixes else 0.0


def fit_locating(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    calibration: Mapping[str, ReaderCalibration],
    tag_height: float,
    gain: GainSpec | None = DEFAULT_GAIN,
    body: bool = True,
    wall_db: float = 0.0,
    radio_map: RadioMap | None = None,
    window: WindowMode = "fit",
    min_samples: int = 30,
) -> LocatorConfig:
    """What `sts calibrate` fits besides the path loss, as the locator to run: the
    wearer's body loss (`body` False: none), the window statistic (`fit_window`; or the
    candidate `window` names), the gain offset estimate's reference (`gain`'s other
    parameters kept; None: no estimate) and the radius model fitted for that locator;
    `wall_db` (`fit_walls`) as the calibration was fitted with, and the radio map
    (`fit_radio_map`) on throughout."""
    body_db = 0.0
    if body:
        body_db = fit_body_db(floorplan, batch, truth, calibration, tag_height, radio_map)
    config = LocatorConfig(
        body_db=body_db, wall_db=wall_db, radio_map=radio_map, tag_height=tag_height
    )
    if window == "fit":
        config = replace(config, window=fit_window(floorplan, batch, truth, config, min_samples))
    else:
        config = replace(config, window=WINDOW_CANDIDATES[window])
    if gain is not None:
        reference = fit_gain_reference(floorplan, batch, calibration, tag_height, config)
        config = replace(config, gain=replace(gain, reference_db=reference))
    model = fit_radius_model(floorplan, batch, truth, calibration, tag_height, config)
    return replace(config, uncertainty_scale=model.scale, uncertainty_per_gain_db=model.per_gain_db)


#: What becomes of the survey's radio map: fitted and kept where it helps walks it was
#: not fitted on, not fitted, or kept whatever those walks say (to measure it).
RadioMapMode = Literal["fit", "off", "force"]


@dataclass(frozen=True, slots=True)
class SiteFit:
    """What `sts calibrate` fits from a survey: the path-loss fits and the locator to
    run with them (body and wall losses, gain offset reference, radio map, radius)."""

    calibration: Calibration
    readers: dict[str, ReaderCalibration]
    locating: LocatorConfig


def fit_site(
    floorplan: Floorplan,
    batch: ReadingBatch,
    truth: Truth,
    tag_height: float = DEFAULT_TAG_HEIGHT,
    min_samples: int = 30,
    gain: GainSpec | None = DEFAULT_GAIN,
    body: bool = True,
    walls: bool = True,
    radio_map: RadioMapMode = "fit",
    window: WindowMode = "fit",
) -> SiteFit:
    """Every fit of `sts calibrate`, in its order: path loss with the loss per wall
    (`walls` False: none), the radio map, then `fit_locating` (`window`: the window
    statistic chosen on the survey, or the one named)."""
    if walls:
        wall_db, cal = fit_walls(floorplan, batch, truth, tag_height, min_samples)
    else:
        wall_db, cal = 0.0, fit_survey(floorplan, batch, truth, tag_height, min_samples)
    per = _by_id(cal, [r.id for r in floorplan.readers])
    fitted = None
    if radio_map == "fit":
        fitted = fit_radio_map(floorplan, batch, truth, per, tag_height, wall_db)
    elif radio_map == "force":
        residuals, ok = survey_residuals(floorplan, batch, truth, per, tag_height, wall_db)
        fitted = radio_map_of(floorplan, residuals, ok)
    locating = fit_locating(
        floorplan,
        batch,
        truth,
        per,
        tag_height,
        gain,
        body,
        wall_db,
        radio_map=fitted,
        window=window,
        min_samples=min_samples,
    )
    return SiteFit(cal, per, locating)
