"""Locate: readings in, tracked positions out, one fix per tag per update interval.

`Locator.process(batch)` runs the whole path on a `ReadingBatch`: validation (bad rows
are counted, never fatal), windowing (`engine.windowing`), trilateration
(`geometry.trilateration`), tracking (`engine.tracking`). It keeps per-tag state and
the readings of the last window between calls, so a stream cut into batches anywhere
gives the same positions, byte for byte, as the whole stream in one batch.

Time: the update times are the steps of the windowing grid (`WindowSpec`: each tag once
per interval, the tags spread over it by phase). A reading older than the running
maximum of the timestamps seen so far minus `late_tolerance` is rejected as late. The
update at T is emitted once a reading with t > T + late_tolerance has been seen (so no
accepted reading can still fall in its window); `flush()` emits the rest at the end of a
stream. Fed every tenth of a second, a call emits one grid step: a tenth of the tags.
A tag's phase is the grid step of its first accepted reading: it depends on the readings
alone (not on tag ids or codes), so a live server, a replay and a pseudonymised replay of
the same readings fix every badge at the same times.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt
from numba import njit

from engine import body_shadow, gain_offset
from engine.batches import PositionBatch, ReadingBatch
from engine.radio_map import RadioMap
from engine.reading_buffer import ReadingBuffer
from engine.tracking import TrackerSpec, TrackState, WalkableGrid, predict, track
from engine.uncertainty import RadiusModel
from engine.wall_loss import WallMap
from engine.windowing import Windows, WindowSpec, first_reading_phases, window_readings
from geometry.errors import ConfigError
from geometry.levels import LevelSpec, LevelState, level_scores, select_levels
from geometry.model import Floorplan, ReaderCalibration
from geometry.trilateration import trilaterate

RSSI_MIN = -127.0
RSSI_MAX = 0.0


class Reject(IntEnum):
    """Why a reading was rejected."""

    UNKNOWN_READER = 1
    RSSI_RANGE = 2
    BAD_TIME = 3
    LATE = 4


REJECT_TEXT: dict[Reject, str] = {
    Reject.UNKNOWN_READER: "unknown reader",
    Reject.RSSI_RANGE: f"rssi outside {RSSI_MIN:.0f}..{RSSI_MAX:.0f} dBm",
    Reject.BAD_TIME: "timestamp not finite",
    Reject.LATE: "timestamp older than the stream (late beyond the tolerance)",
}


@dataclass(frozen=True, slots=True)
class Rejected:
    """Rows of one batch that were rejected: their indexes in the batch and the reason."""

    index: npt.NDArray[np.int64]
    reason: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return len(self.index)

    def counts(self) -> dict[Reject, int]:
        """How many rows each reason rejected (reasons with none left out)."""
        if len(self.index) == 0:
            return {}
        values, n = np.unique(self.reason, return_counts=True)
        return {Reject(int(v)): int(c) for v, c in zip(values, n, strict=True)}


@dataclass(frozen=True, slots=True)
class LocatorConfig:
    """Everything that shapes the output besides the floorplan and calibration."""

    window: WindowSpec = field(default_factory=WindowSpec)
    tracker: TrackerSpec = field(default_factory=TrackerSpec)
    level: LevelSpec = field(default_factory=LevelSpec)
    tracking: bool = True  # False: raw trilateration fixes (for measurement)
    seed_from_track: bool = False  # trilaterate from the tracker's prediction
    # Estimate and remove a per-tag gain offset online (engine/gain_offset.py). None
    # here; on where the calibration says so (`sts calibrate` writes it unless told
    # `--no-gain-offset`): it holds badges 8-16 dB off the survey to the surveyed
    # accuracy (benchmarks/RESULTS.md, "Per-tag gain offset by default").
    gain: gain_offset.GainSpec | None = None
    # Loss toward readers behind a walking wearer, dB (engine/body_shadow.py): `sts
    # calibrate` fits it on the survey; 0 (a badge not on a body, or not measured): off.
    body_db: float = 0.0
    # Loss per wall between badge and reader, dB (engine/wall_loss.py): `sts calibrate`
    # fits it on the survey; 0 (one room, or walls the survey could not tell): off.
    wall_db: float = 0.0
    # dB each reader reads above the model, place by place, measured by the site survey
    # (engine/radio_map.py): `sts calibrate` fits it; None: no correction.
    radio_map: RadioMap | None = None
    tag_height: float = 1.2  # m above the floor: a badge worn on the chest
    min_readers: int = 3
    max_iter: int = 8
    late_tolerance: float = 0.5  # s
    walkable_cell: float = 0.25  # m, raster of walkable space
    walkable_tolerance: float = 0.0  # m, slack around walkable zones
    sigma_floor_db: float = 2.0  # lowest per-reader noise used by the solver
    # Reported uncertainty = scale x the filter's 1-sigma radius, widened by
    # per_gain_db per dB that the tag's gain offset estimate is beyond its dead band
    # (engine/uncertainty.py); `sts calibrate` fits both on the survey so that about 68%
    # of its fixes lie within the reported radius (benchmarks/RESULTS.md, "Uncertainty
    # that follows the fix").
    uncertainty_scale: float = 1.0
    uncertainty_per_gain_db: float = 0.0
    # Solve on every numba thread from this many fixes in one call. Below it the start-up
    # of the threads costs more than it saves, and milliseconds when another process has
    # the other core (benchmarks/kernel_crossover.py); a live tick is far below it.
    parallel_min_fixes: int = 50_000

    def __post_init__(self) -> None:
        if self.min_readers < 1:
            raise ConfigError(f"min_readers must be at least 1, got {self.min_readers}")
        if not (self.late_tolerance >= 0 and np.isfinite(self.late_tolerance)):
            raise ConfigError(f"late_tolerance must be >= 0 s, got {self.late_tolerance}")
        RadiusModel(self.uncertainty_scale, self.uncertainty_per_gain_db)  # raises if invalid
        if self.parallel_min_fixes < 1:
            raise ConfigError(
                f"parallel_min_fixes must be at least 1, got {self.parallel_min_fixes}"
            )
        if not (0 <= self.body_db <= 30):
            raise ConfigError(f"body_db must be in [0, 30] dB, got {self.body_db}")
        if not (0 <= self.wall_db <= 30):
            raise ConfigError(f"wall_db must be in [0, 30] dB, got {self.wall_db}")
        if not (0 < self.walkable_cell <= 5):
            raise ConfigError(f"walkable_cell must be in (0, 5] m, got {self.walkable_cell}")

    @property
    def radius_model(self) -> RadiusModel:
        """How the reported radius is made from the filter's and the gain estimate."""
        return RadiusModel(self.uncertainty_scale, self.uncertainty_per_gain_db)


@dataclass(frozen=True, slots=True)
class ReaderTable:
    """Readers as arrays indexed by reader code (the order of `ids`)."""

    ids: tuple[str, ...]
    xyz: npt.NDArray[np.float64]  # (R, 3)
    level: npt.NDArray[np.int32]  # (R,) index into the floorplan's levels
    rssi_1m: npt.NDArray[np.float64]
    exponent: npt.NDArray[np.float64]
    sigma_db: npt.NDArray[np.float64]

    @classmethod
    def from_floorplan(
        cls, floorplan: Floorplan, calibration: Mapping[str, ReaderCalibration] | None = None
    ) -> ReaderTable:
        """The floorplan's readers; `calibration` (by reader id) overrides their own values."""
        if not floorplan.readers:
            raise ConfigError(
                f"floorplan {floorplan.site.id!r} has no readers; add reader features to locate"
            )
        levels = {lv.id: i for i, lv in enumerate(floorplan.levels)}
        cal = dict(calibration or {})
        unknown = sorted(set(cal) - {r.id for r in floorplan.readers})
        if unknown:
            raise ConfigError(
                f"calibration names readers not in the floorplan: {', '.join(unknown[:5])}; "
                "calibrate against this floorplan"
            )
        rows = [cal.get(r.id, r.calibration) for r in floorplan.readers]
        return cls(
            ids=tuple(r.id for r in floorplan.readers),
            xyz=np.array([[r.x, r.y, r.z] for r in floorplan.readers], np.float64),
            level=np.array([levels.get(r.level, 0) for r in floorplan.readers], np.int32),
            rssi_1m=np.array([c.rssi_1m for c in rows], np.float64),
            exponent=np.array([c.exponent for c in rows], np.float64),
            sigma_db=np.array([c.sigma_db for c in rows], np.float64),
        )

    def __len__(self) -> int:
        return len(self.ids)


def validate(batch: ReadingBatch, n_readers: int) -> npt.NDArray[np.int8]:
    """Per row, 0 when usable, else the `Reject` reason (first that applies)."""
    reason, _, _, _ = _screen(
        batch.t, batch.reader, batch.rssi, n_readers, -np.inf, np.inf, -np.inf, -np.inf
    )
    return reason


@njit(cache=True)
def _screen(
    t: np.ndarray,
    reader: np.ndarray,
    rssi: np.ndarray,
    n_readers: int,
    watermark: float,
    tolerance: float,
    emitted_until: float,
    last_t: float,
) -> tuple[np.ndarray, float, int, bool]:
    """Each row's `Reject` reason (0: usable), the new watermark, the number of rows
    rejected, and whether the usable rows are in time order and none is older than
    `last_t` (the newest time buffered), so the buffer stays time-ordered.

    The watermark before a row is the largest time of every earlier row that passed
    validation (late or not) and of the batch's past; a valid row older than it by more
    than `tolerance`, or at or before `emitted_until` (a window already emitted), is late.
    """
    reason = np.zeros(len(t), np.int8)
    bad = 0
    ordered = True
    for i in range(len(t)):
        ti = t[i]
        level = rssi[i]
        r = reader[i]
        if not np.isfinite(ti):
            reason[i] = Reject.BAD_TIME
        elif not (level >= RSSI_MIN and level <= RSSI_MAX):
            reason[i] = Reject.RSSI_RANGE
        elif r < 0 or r >= n_readers:
            reason[i] = Reject.UNKNOWN_READER
        else:
            if ti < watermark - tolerance or ti <= emitted_until:
                reason[i] = Reject.LATE
            if ti > watermark:
                watermark = ti
        if reason[i] != 0:
            bad += 1
        else:
            ordered = ordered and ti >= last_t
            last_t = ti
    return reason, watermark, bad, ordered


_NONE_REJECTED = Rejected(np.empty(0, np.int64), np.empty(0, np.int8))


class Locator:
    """Streaming readings -> positions for one site; deterministic; no I/O."""

    def __init__(
        self,
        floorplan: Floorplan,
        calibration: Mapping[str, ReaderCalibration] | None = None,
        config: LocatorConfig | None = None,
    ) -> None:
        self.config = config or LocatorConfig()
        self.readers = ReaderTable.from_floorplan(floorplan, calibration)
        self.grid = WalkableGrid.from_floorplan(
            floorplan, cell=self.config.walkable_cell, tolerance=self.config.walkable_tolerance
        )
        self.bounds = _bounds(floorplan, self.readers)
        walls = WallMap.from_floorplan(floorplan) if self.config.wall_db > 0 else None
        self._walls = walls if walls is not None and walls.walled else None
        radio_map = self.config.radio_map
        if radio_map is not None and radio_map.n_readers != len(self.readers):
            raise ConfigError(
                f"the radio map holds {radio_map.n_readers} readers and the floorplan "
                f"{len(self.readers)}; calibrate against this floorplan"
            )
        self._state = TrackState()
        self._n_levels = max(1, len(floorplan.levels))
        self._level_state = LevelState.empty()
        self._buffer = ReadingBuffer()
        self._ordered = True  # the buffer's times never decrease (the usual stream)
        self._watermark = -np.inf
        self._next_k: int | None = None
        self._gain_state = np.zeros(0)  # per tag code: the gain offset integrator, dB
        self._phase = np.full(0, -1, np.int64)  # per tag code: its grid phase (-1: none yet)
        self.rejected_total: dict[Reject, int] = {}

    # -- streaming ---------------------------------------------------------------------

    def process(self, batch: ReadingBatch) -> PositionBatch:
        """Positions for every update time that this batch completes."""
        positions, _ = self.process_with_report(batch)
        return positions

    def process_with_report(self, batch: ReadingBatch) -> tuple[PositionBatch, Rejected]:
        """`process`, plus the rows of `batch` that were rejected and why."""
        rejected = self._accept(batch)
        cfg = self.config
        if self._next_k is None or not np.isfinite(self._watermark):
            return PositionBatch.empty(), rejected
        # Emit T < watermark - tolerance: no reading accepted later can fall in its window.
        horizon = self._watermark - cfg.late_tolerance
        k_end = cfg.window.step_at_or_before(horizon)
        if float(cfg.window.time_of(k_end)) >= horizon:
            k_end -= 1
        return self._emit(k_end), rejected

    def flush(self) -> PositionBatch:
        """At the end of a stream: positions for the update times not yet emitted."""
        if self._next_k is None or not np.isfinite(self._watermark):
            return PositionBatch.empty()
        return self._emit(self.config.window.step_at_or_before(self._watermark))

    def gain_state_db(self) -> npt.NDArray[np.float64]:
        """Per tag code (tags not yet seen: absent), the gain offset integrator so far, dB
        (engine/gain_offset.py); zeros when the estimate is off."""
        return self._gain_state.copy()

    def forget(self, tags: npt.ArrayLike) -> None:
        """Drop every trace of these tag codes: buffered readings, track, level (consent
        withdrawn). Their next reading starts afresh."""
        codes = np.asarray(tags, dtype=np.int64).ravel()
        if len(codes) == 0:
            return
        self._buffer.keep(~np.isin(self._buffer.tag, codes))
        st = self._state
        known = codes[(codes >= 0) & (codes < len(st.alive))]
        st.alive[known] = False
        st.mean[known] = 0.0
        st.cov[known] = 0.0
        st.last_t[known] = 0.0
        st.level[known] = 0
        st.gated[known] = 0
        lv = self._level_state
        placed = codes[(codes >= 0) & (codes < len(lv.level))]
        level, candidate, streak = lv.level.copy(), lv.candidate.copy(), lv.streak.copy()
        level[placed] = -1
        candidate[placed] = -1
        streak[placed] = 0
        self._level_state = LevelState(level, candidate, streak)
        self._gain_state[codes[(codes >= 0) & (codes < len(self._gain_state))]] = 0.0
        self._phase[codes[(codes >= 0) & (codes < len(self._phase))]] = -1

    # -- steps -------------------------------------------------------------------------

    def _accept(self, batch: ReadingBatch) -> Rejected:
        """Validate, drop late rows against the running watermark, buffer the rest."""
        cfg = self.config
        # After a flush, rows of windows already emitted are late whatever the watermark.
        emitted_until = -np.inf
        if self._next_k is not None:
            emitted_until = float(cfg.window.time_of(self._next_k - 1))
        buffered_t = self._buffer.t
        reason, self._watermark, n_bad, ordered = _screen(
            batch.t,
            batch.reader,
            batch.rssi,
            len(self.readers),
            float(self._watermark),
            float(cfg.late_tolerance),
            float(emitted_until),
            float(buffered_t[-1]) if len(buffered_t) else -np.inf,
        )
        rejected = _NONE_REJECTED
        if n_bad:
            bad = np.flatnonzero(reason)
            rejected = Rejected(bad.astype(np.int64), reason[bad])
            for why, n in rejected.counts().items():
                self.rejected_total[why] = self.rejected_total.get(why, 0) + n
        # The buffer never shares the caller's arrays: appending copies.
        fresh = batch if n_bad == 0 else batch.take(reason == 0)
        if len(fresh):
            if self._next_k is None:
                # From the stream's first row, less the tolerance: no later row can be
                # older, so cutting the stream anywhere gives the same first update.
                first = float(fresh.t[0]) - cfg.late_tolerance
                self._next_k = cfg.window.step_at_or_before(first)
                if float(cfg.window.time_of(self._next_k)) < first:
                    self._next_k += 1
            self._ordered = self._ordered and ordered
            self._buffer.append(fresh)
            self._assign_phases(fresh)
        return rejected

    def _assign_phases(self, fresh: ReadingBatch) -> None:
        """Give the tags heard for the first time the phase of their first reading."""
        top = int(fresh.tag.max()) + 1
        if top > len(self._phase):
            grown = np.full(top, -1, np.int64)
            grown[: len(self._phase)] = self._phase
            self._phase = grown
        new = self._phase[fresh.tag] < 0
        if new.any():
            size = len(self._phase)
            phase = first_reading_phases(fresh.tag[new], fresh.t[new], self.config.window, size)
            self._phase = np.where(self._phase < 0, phase, self._phase)

    def _emit(self, k_end: int) -> PositionBatch:
        """Window, solve and track the update times next_k .. k_end; keep what is needed."""
        assert self._next_k is not None
        cfg = self.config
        k0 = self._next_k
        if k_end < k0:
            return PositionBatch.empty()
        windows = window_readings(
            self._buffer.view(),
            len(self.readers),
            cfg.window,
            k0,
            k_end,
            ordered=self._ordered,
            phase_of=self._phase,
        )
        positions = self._locate(windows)
        self._next_k = k_end + 1
        # Keep the readings that later windows (T >= next update) can still see.
        keep_after = float(cfg.window.time_of(self._next_k)) - cfg.window.window
        buffered_t = self._buffer.t
        if self._ordered:
            # time-ordered (the usual stream): the rows kept are a suffix
            self._buffer.drop_first(int(np.searchsorted(buffered_t, keep_after, side="right")))
        else:
            self._buffer.keep(buffered_t > keep_after)
            kept_t = self._buffer.t
            self._ordered = bool(np.all(kept_t[1:] >= kept_t[:-1]))
        return positions

    def _solve(
        self, w: Windows, x0: npt.NDArray[np.float64] | None, level: npt.NDArray[np.int32]
    ) -> tuple[
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.bool_],
    ]:
        """Trilaterate window rows (on their levels): x, y, uncertainty, ok. With walls
        or a radio map, solve, correct the readings for what the walls between each fix
        and its readers took and what the map says the readers read there above the
        model, and solve again from the first fix the rows with a correction."""
        x, y, u, ok = self._trilaterate(w, x0)
        if not self._corrects:
            return x, y, u, ok
        first = np.where(ok[:, None], np.column_stack((x, y)), np.nan)
        correction = self._correction(w, level, first)
        changed = np.flatnonzero((correction != 0).any(axis=1))
        if len(changed) == 0:
            return x, y, u, ok
        part = _rows(w, changed)
        part = _with_rssi(part, part.rssi + correction[changed])
        x[changed], y[changed], u[changed], ok[changed] = self._trilaterate(part, first[changed])
        return x, y, u, ok

    @property
    def _corrects(self) -> bool:
        """Whether fixes are corrected for walls or a radio map and solved again."""
        return self._walls is not None or self.config.radio_map is not None

    def _correction(
        self, w: Windows, level: npt.NDArray[np.int32], at: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """dB to add to the rows' readings (n, k) for a badge at `at` (n, 2; NaN: none):
        what the walls between it and each reader took, less what the radio map says
        the reader reads there above the model."""
        out = np.zeros(w.reader.shape)
        if self._walls is not None:
            out += self.config.wall_db * self._walls.walls(level, at, w.reader)
        if self.config.radio_map is not None:
            out -= self.config.radio_map.correction(level, at, w.reader)
        return out

    def _trilaterate(
        self, w: Windows, x0: npt.NDArray[np.float64] | None
    ) -> tuple[
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.bool_],
    ]:
        """Trilaterate window rows: x, y, uncertainty, ok."""
        r = self.readers
        xyz, rssi, rssi_1m, exponent, sigma = _reader_columns(
            w.reader,
            w.rssi,
            r.xyz,
            r.rssi_1m,
            r.exponent,
            r.sigma_db,
            float(self.config.sigma_floor_db),
        )
        fixes = trilaterate(
            xyz,
            rssi,
            w.count.astype(np.int32),
            rssi_1m,
            exponent,
            sigma,
            tag_height=self.config.tag_height,
            bounds=self.bounds,
            x0=x0,
            max_iter=self.config.max_iter,
            min_readers=self.config.min_readers,
            parallel=len(w) >= self.config.parallel_min_fixes,
        )
        ok: npt.NDArray[np.bool_] = (fixes.status == 0) | (fixes.status == 1)
        return fixes.x, fixes.y, fixes.uncertainty, ok

    def _locate(self, w: Windows) -> PositionBatch:
        """Fixes for window rows (ordered by time, then tag), then the tracker."""
        n = len(w)
        if n == 0:
            return PositionBatch.empty()
        level = self._level(w)
        cfg = self.config
        gain_db: npt.NDArray[np.float64] | None = None
        if cfg.tracking and (cfg.seed_from_track or cfg.body_db > 0):
            out_x, out_y, out_u, out_level, valid, gain_db = self._track_each_time(w, level)
        else:
            if cfg.gain is None:
                x, y, u, ok = self._solve(w, None, level)
            else:
                x, y, u, ok, gain_db = self._solve_each_time(w, level, cfg.gain)
            if cfg.tracking:
                tr = track(self._state, cfg.tracker, self.grid, w.t, w.tag, x, y, u, level, ok)
                out_x, out_y, out_u, out_level, valid = (
                    tr.x,
                    tr.y,
                    tr.uncertainty,
                    tr.level,
                    tr.valid,
                )
            else:
                out_x, out_y, out_u, out_level, valid = x, y, u, level, ok
        band = cfg.gain.dead_band_db if cfg.gain is not None else 0.0
        radius = cfg.radius_model.radius(
            out_u[valid], None if gain_db is None else gain_db[valid], band
        )
        return PositionBatch.from_arrays(
            w.t[valid], w.tag[valid], out_level[valid], out_x[valid], out_y[valid], radius
        )

    def _track_each_time(
        self, w: Windows, level: npt.NDArray[np.int32]
    ) -> tuple[
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.int32],
        npt.NDArray[np.bool_],
        npt.NDArray[np.float64] | None,
    ]:
        """Solve and track one update time after the other, each from the tracks so far:
        seeded by the predicted position (`seed_from_track`), the readings corrected for
        the wearer's heading (`body_db`): x, y, uncertainty, level, valid per row, and
        the gain offset integrator after each row's fix (None: no estimate)."""
        cfg = self.config
        n = len(w)
        out_x, out_y, out_u = np.empty(n), np.empty(n), np.empty(n)
        out_level = np.empty(n, np.int32)
        valid = np.zeros(n, bool)
        gain_db = None if cfg.gain is None else np.zeros(n)
        for rows in _time_slices(w):
            part = _rows(w, rows)
            guess = predict(self._state, part.tag, part.t)
            seeded = np.isfinite(guess[:, 0])
            if cfg.body_db > 0 and seeded.any():
                part = self._without_body(part, guess)
            x0 = guess if cfg.seed_from_track and seeded.any() else None
            if gain_db is None or cfg.gain is None:
                xs, ys, us, oks = self._solve(part, x0, level[rows])
            else:
                xs, ys, us, oks, gain_db[rows] = self._solve_gain(part, x0, level[rows], cfg.gain)
            tr = track(
                self._state, cfg.tracker, self.grid, part.t, part.tag, xs, ys, us, level[rows], oks
            )
            out_x[rows], out_y[rows], out_u[rows] = tr.x, tr.y, tr.uncertainty
            out_level[rows], valid[rows] = tr.level, tr.valid
        return out_x, out_y, out_u, out_level, valid, gain_db

    def _without_body(self, part: Windows, guess: npt.NDArray[np.float64]) -> Windows:
        """The rows' readings less what the wearer's heading (its track's velocity) adds."""
        st = self._state
        velocity = np.full((len(part), 2), np.nan)
        alive = np.isfinite(guess[:, 0])
        velocity[alive] = st.mean[part.tag[alive], 2:4]
        reader_xy = self.readers.xyz[np.maximum(part.reader, 0), :2]
        excess = body_shadow.body_excess(reader_xy, guess, velocity, self.config.body_db)
        return _with_rssi(part, part.rssi - excess)

    def _solve_each_time(
        self, w: Windows, level: npt.NDArray[np.int32], spec: gain_offset.GainSpec
    ) -> tuple[
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.bool_],
        npt.NDArray[np.float64],
    ]:
        """`_solve_gain` one update time after the other (in time order, so a stream cut
        anywhere gives the same fixes)."""
        n = len(w)
        x, y, u, gain_db = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
        ok = np.zeros(n, bool)
        for rows in _time_slices(w):
            x[rows], y[rows], u[rows], ok[rows], gain_db[rows] = self._solve_gain(
                _rows(w, rows), None, level[rows], spec
            )
        return x, y, u, ok, gain_db

    def _solve_gain(
        self,
        part: Windows,
        x0: npt.NDArray[np.float64] | None,
        level: npt.NDArray[np.int32],
        spec: gain_offset.GainSpec,
    ) -> tuple[
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.bool_],
        npt.NDArray[np.float64],
    ]:
        """`_solve` the rows of one update time twice: each tag's readings less its whole
        gain offset estimate, to update the estimate from that fix's residuals; and less
        the applied share of the estimate (`gain_offset.applied_offset`), for the fix
        that is returned (the same solve where the two agree). Also returned: each row's
        tag's estimate after its fix."""
        if len(part) and int(part.tag.max()) >= len(self._gain_state):
            grow = int(part.tag.max()) + 1 - len(self._gain_state)
            self._gain_state = np.concatenate((self._gain_state, np.zeros(grow)))
        estimate = self._gain_state[part.tag]
        learning = gain_offset.learning_offset(estimate, spec)
        corrected = _with_rssi(part, part.rssi - learning[:, None])
        x, y, u, ok = self._solve(corrected, x0, level)
        after = gain_offset.step(
            estimate, self._fix_residual(corrected, x, y, ok, level, spec), spec
        )
        self._gain_state[part.tag] = after
        applied = gain_offset.applied_offset(estimate, spec)
        redo = np.flatnonzero(applied != learning)
        if len(redo):
            shown = _rows(part, redo)
            shown = _with_rssi(shown, shown.rssi - applied[redo, None])
            seed = None if x0 is None else x0[redo]
            x[redo], y[redo], u[redo], ok[redo] = self._solve(shown, seed, level[redo])
        return x, y, u, ok, after

    def _fix_residual(
        self,
        part: Windows,
        x: npt.NDArray[np.float64],
        y: npt.NDArray[np.float64],
        ok: npt.NDArray[np.bool_],
        level: npt.NDArray[np.int32],
        spec: gain_offset.GainSpec,
    ) -> npt.NDArray[np.float64]:
        """Each row's mean residual at its fix (`gain_offset.fix_residual`), the readings
        corrected as the fix was (walls, radio map); NaN without a fix."""
        if self._corrects:
            at = np.where(ok[:, None], np.column_stack((x, y)), np.nan)
            part = _with_rssi(part, part.rssi + self._correction(part, level, at))
        modelled, sigma = self._modelled(part, x, y)
        used = (part.reader >= 0) & np.isfinite(part.rssi) & ok[:, None]
        return gain_offset.fix_residual(part.rssi, modelled, sigma, used, spec)

    def _modelled(
        self, w: Windows, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The RSSI the calibration expects at (x, y) from each window column's reader,
        and that reader's noise (floored as the solver floors it)."""
        r = self.readers
        c = np.maximum(w.reader, 0)
        dx = x[:, None] - r.xyz[c, 0]
        dy = y[:, None] - r.xyz[c, 1]
        dz = self.config.tag_height - r.xyz[c, 2]
        distance = np.maximum(np.sqrt(dx * dx + dy * dy + dz * dz), 0.1)
        modelled = r.rssi_1m[c] - 10.0 * r.exponent[c] * np.log10(distance)
        return modelled, np.maximum(r.sigma_db[c], self.config.sigma_floor_db)

    def _level(self, w: Windows) -> npt.NDArray[np.int32]:
        """Level of each row: the strongest readers' level, with hysteresis per tag."""
        if self._n_levels == 1:
            return np.zeros(len(w), np.int32)
        reader_level = np.where(w.reader >= 0, self.readers.level[np.maximum(w.reader, 0)], -1)
        scores = level_scores(reader_level, w.rssi, w.count, self._n_levels, self.config.level.top)
        level, self._level_state = select_levels(
            scores, w.tag, self._level_state, self.config.level
        )
        # -1 (no reader of any level heard): cannot happen for a window row; stay safe.
        return np.maximum(level, 0).astype(np.int32)


@njit(cache=True)
def _reader_columns(
    reader: np.ndarray,
    rssi: np.ndarray,
    xyz: np.ndarray,
    rssi_1m: np.ndarray,
    exponent: np.ndarray,
    sigma_db: np.ndarray,
    sigma_floor: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The solver's per-reading columns for window rows in one pass (numpy's fancy
    indexing would take five): reader position, rssi (unused slots -100), calibration,
    noise floored at sigma_floor. Unused slots (reader -1) take reader 0's values."""
    n, k = reader.shape
    p = np.empty((n, k, 3))
    r_out = np.empty((n, k))
    a_out = np.empty((n, k))
    e_out = np.empty((n, k))
    s_out = np.empty((n, k))
    for i in range(n):
        for j in range(k):
            c = max(reader[i, j], 0)
            p[i, j, 0] = xyz[c, 0]
            p[i, j, 1] = xyz[c, 1]
            p[i, j, 2] = xyz[c, 2]
            v = rssi[i, j]
            r_out[i, j] = v if np.isfinite(v) else -100.0
            a_out[i, j] = rssi_1m[c]
            e_out[i, j] = exponent[c]
            sd = sigma_db[c]
            # np.maximum's rule: a NaN on either side gives NaN
            if sd != sd or sigma_floor != sigma_floor:
                s_out[i, j] = np.nan
            else:
                s_out[i, j] = sd if sd >= sigma_floor else sigma_floor
    return p, r_out, a_out, e_out, s_out


def _time_slices(w: Windows) -> list[slice]:
    """Consecutive runs of rows (ordered by time) in which no tag appears twice: each
    tag's fixes depend on its own track so far and on no other tag's, so a run solves in
    one call and gives what one call per update time would."""
    bounds = _runs_without_repeats(w.tag).tolist()
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


@njit(cache=True)
def _runs_without_repeats(tag: np.ndarray) -> np.ndarray:
    """Cut points (0 first, len(tag) last) of the greedy runs without a repeated tag."""
    n = len(tag)
    if n == 0:
        return np.zeros(1, np.int64)
    run_of = np.full(int(tag.max()) + 1, -1, np.int64)  # per tag: the run it was last in
    cuts = np.empty(n + 1, np.int64)
    cuts[0] = 0
    runs = 0
    for i in range(n):
        g = tag[i]
        if run_of[g] == runs:
            runs += 1
            cuts[runs] = i
        run_of[g] = runs
    cuts[runs + 1] = n
    return cuts[: runs + 2]


def _with_rssi(w: Windows, rssi: npt.NDArray[np.float64]) -> Windows:
    """Window rows with other RSSI values."""
    return Windows(w.t, w.tag, w.reader, rssi, w.samples, w.count, w.t_obs)


def _rows(w: Windows, sl: slice | npt.NDArray[np.int64]) -> Windows:
    """Some window rows: a slice, or row indexes."""
    return Windows(
        w.t[sl], w.tag[sl], w.reader[sl], w.rssi[sl], w.samples[sl], w.count[sl], w.t_obs[sl]
    )


def _bounds(floorplan: Floorplan, readers: ReaderTable) -> tuple[float, float, float, float]:
    """The solver's box: every zone and reader of the site."""
    xs = list(readers.xyz[:, 0])
    ys = list(readers.xyz[:, 1])
    for z in floorplan.zones:
        x0, y0, x1, y1 = z.polygon.bounds
        xs += [x0, x1]
        ys += [y0, y1]
    return float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys))


def locate_all(
    floorplan: Floorplan,
    batch: ReadingBatch,
    calibration: Mapping[str, ReaderCalibration] | None = None,
    config: LocatorConfig | None = None,
) -> tuple[PositionBatch, Rejected]:
    """A whole recording in one go: process, then flush."""
    locator = Locator(floorplan, calibration, config)
    first, rejected = locator.process_with_report(batch)
    rest = locator.flush()
    return _concat_positions(first, rest), rejected


def _concat_positions(a: PositionBatch, b: PositionBatch) -> PositionBatch:
    """Two position batches, one after the other."""
    return PositionBatch(
        np.concatenate((a.t, b.t)),
        np.concatenate((a.tag, b.tag)),
        np.concatenate((a.level, b.level)),
        np.concatenate((a.x, b.x)),
        np.concatenate((a.y, b.y)),
        np.concatenate((a.uncertainty, b.uncertainty)),
    )
