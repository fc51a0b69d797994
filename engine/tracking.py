"""Tracking: a constant-velocity Kalman filter per tag, vectorised over tags.

Each tag's state is (x, y, vx, vy) with a 4x4 covariance, in flat arrays indexed by the
tag code. Fixes come in time order (then tag); one numba pass predicts each tag to its
fix time, gates the fix on walking speed, updates, and keeps the estimate inside walkable
space (a raster of the floorplan's walkable zones with, per cell, the nearest walkable
point). The output uncertainty is sqrt(var x + var y) of the filter's position
covariance (the 1-sigma radius; about 63% for a round Gaussian).

Stages are switchable so each can be measured (see benchmarks/RESULTS.md, "Positioning
accuracy"): speed gate off/inflate/reject, walkable constraint on/off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt
import shapely
from numba import njit
from shapely.geometry import MultiPolygon, Polygon

from geometry.errors import ConfigError
from geometry.model import Floorplan

#: Largest walkable raster per level (cells); beyond it the cells grow.
MAX_CELLS = 2_000_000

#: Zone property that marks a zone (furniture, walls, a pond) as not walkable.
WALKABLE_PROPERTY = "walkable"


class Gate(IntEnum):
    """What the speed gate does with a fix that implies more than `max_speed`."""

    OFF = 0
    INFLATE = 1  # keep it, with its noise scaled up by how far it overshoots
    REJECT = 2  # drop it (the filter only predicts)


@dataclass(frozen=True, slots=True)
class TrackerSpec:
    """Filter parameters (SI units)."""

    # accel_noise and fix_sigma_scale: chosen by cross-validation on tetam-ble.
    accel_noise: float = 0.1  # m^2/s^3 spectral density of walking accelerations
    max_speed: float = 2.5  # m/s, a brisk walk / a run in a corridor
    gate: Gate = Gate.INFLATE
    gate_margin_sigma: float = 2.0  # fix noise allowed on top of max_speed * dt
    reset_after: int = 5  # consecutive gated fixes after which the track restarts there
    initial_speed_sigma: float = 1.0  # m/s, velocity uncertainty of a new track
    min_fix_sigma: float = 0.5  # m, floor on the measurement noise of one fix
    fix_sigma_scale: float = 3.0  # measurement sigma = scale * fix uncertainty
    constrain: bool = True  # keep estimates inside walkable space

    def __post_init__(self) -> None:
        for name in ("accel_noise", "max_speed", "initial_speed_sigma", "min_fix_sigma"):
            value = getattr(self, name)
            if not (value > 0 and np.isfinite(value)):
                raise ConfigError(f"tracker {name} must be a positive number, got {value}")
        if self.reset_after < 1:
            raise ConfigError(f"tracker reset_after must be at least 1, got {self.reset_after}")


@dataclass(frozen=True, slots=True)
class WalkableGrid:
    """Walkable space per level as a raster: `inside[level, iy, ix]`, and for cells
    outside, the nearest walkable point (`near_x`, `near_y`). Cell (0, 0) has its lower
    left corner at (x0, y0). Points beyond the raster are clamped to its edge first."""

    x0: float
    y0: float
    cell: float
    inside: npt.NDArray[np.bool_]
    near_x: npt.NDArray[np.float64]
    near_y: npt.NDArray[np.float64]

    @classmethod
    def from_polygons(
        cls,
        polygons: list[Polygon | MultiPolygon | None],
        cell: float = 0.25,
        tolerance: float = 0.0,
    ) -> WalkableGrid:
        """Rasterise one walkable (multi)polygon per level (None: no constraint there).

        `tolerance` (m) widens walkable space, so a fix just outside it (a person
        leaning on a desk, a survey error) is left alone.
        """
        grown = [
            None if p is None or p.is_empty else (p.buffer(tolerance) if tolerance else p)
            for p in polygons
        ]
        present = [p for p in grown if p is not None]
        if not present:
            empty = np.zeros((len(polygons), 1, 1))
            return cls(0.0, 0.0, cell, np.ones((len(polygons), 1, 1), bool), empty, empty)
        xmin, ymin, xmax, ymax = shapely.union_all(present).bounds
        # A large campus gets coarser cells: at most MAX_CELLS per level (memory, build time).
        area = max((xmax - xmin + cell) * (ymax - ymin + cell), cell * cell)
        cell = max(cell, float(np.sqrt(area / MAX_CELLS)))
        nx = int(np.ceil((xmax - xmin) / cell)) + 1
        ny = int(np.ceil((ymax - ymin) / cell)) + 1
        cx = xmin + (np.arange(nx) + 0.5) * cell
        cy = ymin + (np.arange(ny) + 0.5) * cell
        gx, gy = np.meshgrid(cx, cy)
        inside = np.ones((len(polygons), ny, nx), bool)
        near_x = np.repeat(gx[None], len(polygons), axis=0)
        near_y = np.repeat(gy[None], len(polygons), axis=0)
        for lv, poly in enumerate(grown):
            if poly is None:
                continue
            inside[lv] = shapely.contains_xy(poly, gx, gy)
            out = ~inside[lv]
            points = shapely.points(gx[out], gy[out])
            # Nearest walkable point: the far end of the shortest line to the polygon,
            # nudged 1 cm inward so the projected point tests as inside.
            lines = shapely.shortest_line(points, poly)
            ends = shapely.get_coordinates(shapely.get_point(lines, 1))
            inner = poly.buffer(-0.01)
            if not inner.is_empty:
                inner_lines = shapely.shortest_line(shapely.points(ends), inner)
                ends = shapely.get_coordinates(shapely.get_point(inner_lines, 1))
            near_x[lv][out] = ends[:, 0]
            near_y[lv][out] = ends[:, 1]
        return cls(float(xmin), float(ymin), float(cell), inside, near_x, near_y)

    @classmethod
    def from_floorplan(
        cls, floorplan: Floorplan, cell: float = 0.25, tolerance: float = 0.0
    ) -> WalkableGrid:
        """Walkable space of each level: its zones minus those with `walkable: false`."""
        polygons: list[Polygon | MultiPolygon | None] = []
        for level in floorplan.levels:
            zones = list(floorplan.zones_on(level.id))
            blocked = [z.polygon for z in zones if z.properties.get(WALKABLE_PROPERTY) is False]
            free = [z.polygon for z in zones if z.properties.get(WALKABLE_PROPERTY) is not False]
            if not free:
                polygons.append(None)
                continue
            space = shapely.union_all(free)
            if blocked:
                space = space.difference(shapely.union_all(blocked))
            polygons.append(space)
        return cls.from_polygons(polygons, cell=cell, tolerance=tolerance)

    def project(
        self, level: npt.NDArray[np.int32], x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Points moved to the nearest walkable point where they are outside."""
        px = np.array(x, dtype=np.float64)
        py = np.array(y, dtype=np.float64)
        _project_many(
            level.astype(np.int64),
            px,
            py,
            self.x0,
            self.y0,
            self.cell,
            self.inside,
            self.near_x,
            self.near_y,
        )
        return px, py


@njit(cache=True)
def _project_one(
    lv: int,
    x: float,
    y: float,
    x0: float,
    y0: float,
    cell: float,
    inside: np.ndarray,
    near_x: np.ndarray,
    near_y: np.ndarray,
) -> tuple[float, float]:
    """One point moved into walkable space of its level (unchanged when inside)."""
    if lv < 0 or lv >= inside.shape[0]:
        return x, y
    ny = inside.shape[1]
    nx = inside.shape[2]
    ix = int(np.floor((x - x0) / cell))
    iy = int(np.floor((y - y0) / cell))
    ix = min(max(ix, 0), nx - 1)
    iy = min(max(iy, 0), ny - 1)
    if inside[lv, iy, ix]:
        # Clamped from beyond the raster onto an inside edge cell: move to that cell.
        cx = min(max(x, x0), x0 + nx * cell)
        cy = min(max(y, y0), y0 + ny * cell)
        return cx, cy
    return near_x[lv, iy, ix], near_y[lv, iy, ix]


@njit(cache=True)
def _project_many(
    level: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    x0: float,
    y0: float,
    cell: float,
    inside: np.ndarray,
    near_x: np.ndarray,
    near_y: np.ndarray,
) -> None:
    """Project every point in place."""
    for i in range(len(x)):
        x[i], y[i] = _project_one(level[i], x[i], y[i], x0, y0, cell, inside, near_x, near_y)


@dataclass(slots=True)
class TrackState:
    """Per-tag filter state, indexed by tag code; grows as new tags appear."""

    mean: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 4)))
    cov: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 4, 4)))
    last_t: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    level: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    alive: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    gated: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))

    def ensure(self, n_tags: int) -> None:
        """Room for tag codes 0 .. n_tags - 1 (new tags start with no track)."""
        have = len(self.last_t)
        if n_tags <= have:
            return
        extra = n_tags - have
        self.mean = np.concatenate([self.mean, np.zeros((extra, 4))])
        self.cov = np.concatenate([self.cov, np.zeros((extra, 4, 4))])
        self.last_t = np.concatenate([self.last_t, np.zeros(extra)])
        self.level = np.concatenate([self.level, np.zeros(extra, np.int32)])
        self.alive = np.concatenate([self.alive, np.zeros(extra, bool)])
        self.gated = np.concatenate([self.gated, np.zeros(extra, np.int32)])

    def copy(self) -> TrackState:
        """An independent copy."""
        return TrackState(
            self.mean.copy(),
            self.cov.copy(),
            self.last_t.copy(),
            self.level.copy(),
            self.alive.copy(),
            self.gated.copy(),
        )


@dataclass(frozen=True, slots=True)
class Tracks:
    """Filtered positions, one per input fix that had (or continued) a track."""

    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    uncertainty: npt.NDArray[np.float64]
    level: npt.NDArray[np.int32]
    valid: npt.NDArray[np.bool_]  # False: the tag has no track yet and the fix was unusable


@njit(cache=True)
def _predict_to(mean: np.ndarray, cov: np.ndarray, g: int, dt: float, q: float) -> None:
    """Constant-velocity prediction of tag g by dt seconds, in place."""
    if dt <= 0.0:
        return
    for a in range(2):
        mean[g, a] += dt * mean[g, a + 2]
    # P = F P F^T + Q with F = [[I, dt I], [0, I]]; written out per block.
    P = cov[g]
    Pn = np.empty((4, 4))
    for i in range(4):
        for j in range(4):
            v = P[i, j]
            if i < 2:
                v += dt * P[i + 2, j]
            if j < 2:
                v += dt * P[i, j + 2]
            if i < 2 and j < 2:
                v += dt * dt * P[i + 2, j + 2]
            Pn[i, j] = v
    dt2 = dt * dt
    for a in range(2):
        Pn[a, a] += q * dt2 * dt / 3.0
        Pn[a, a + 2] += q * dt2 / 2.0
        Pn[a + 2, a] += q * dt2 / 2.0
        Pn[a + 2, a + 2] += q * dt
    for i in range(4):
        for j in range(4):
            cov[g, i, j] = Pn[i, j]


@njit(cache=True)
def _start(
    mean: np.ndarray, cov: np.ndarray, g: int, x: float, y: float, sig: float, vsig: float
) -> None:
    """A new track at (x, y), standing still with uncertain speed."""
    mean[g, 0] = x
    mean[g, 1] = y
    mean[g, 2] = 0.0
    mean[g, 3] = 0.0
    for i in range(4):
        for j in range(4):
            cov[g, i, j] = 0.0
    cov[g, 0, 0] = sig * sig
    cov[g, 1, 1] = sig * sig
    cov[g, 2, 2] = vsig * vsig
    cov[g, 3, 3] = vsig * vsig


#: A walkable raster as the kernels take it: x0, y0, cell, inside, near_x, near_y.
_Walkable = tuple[float, float, float, np.ndarray, np.ndarray, np.ndarray]
#: The speed gate's parameters: mode (a `Gate`), max speed, margin in sigmas, reset count.
_Gating = tuple[int, float, float, int]


@njit(cache=True, inline="always")
def _speed_gate(
    rx: float, ry: float, r2: float, pos_var: float, dt: float, n_gated: int, gating: _Gating
) -> tuple[bool, bool, int, float]:
    """A fix at residual (rx, ry) and noise variance r2 from a track of mean position
    variance `pos_var` after `n_gated` gated fixes, at the speed gate: (use it, restart
    the track there, the gated fixes now, the noise variance to use)."""
    gate, vmax, gate_k, reset_after = gating
    if gate == 0:
        return True, False, n_gated, r2
    dist = np.sqrt(rx * rx + ry * ry)
    allowed = vmax * max(dt, 0.0) + gate_k * np.sqrt(pos_var + r2)
    if not dist > allowed:
        return True, False, 0, r2
    n_gated += 1
    if n_gated >= reset_after:
        # Consistently far away: the tag really is elsewhere.
        return False, True, 0, r2
    if gate == 2:
        return False, False, n_gated, r2
    scale = dist / allowed
    return True, False, n_gated, r2 * scale * scale


@njit(cache=True, inline="always")
def _kalman_update(
    mean: np.ndarray,
    cov: np.ndarray,
    g: int,
    residual: tuple[float, float],
    r2: float,
    gain: np.ndarray,
    cov_next: np.ndarray,
) -> None:
    """Kalman update of tag g by a fix at `residual` (x, y) from its mean: H = [I 0],
    R = r2 I. `gain` (4, 2) and `cov_next` (4, 4) are scratch, reused from fix to fix."""
    rx, ry = residual
    s00 = cov[g, 0, 0] + r2
    s01 = cov[g, 0, 1]
    s11 = cov[g, 1, 1] + r2
    det = s00 * s11 - s01 * s01
    i00 = s11 / det
    i01 = -s01 / det
    i11 = s00 / det
    for a in range(4):
        pa0 = cov[g, a, 0]
        pa1 = cov[g, a, 1]
        gain[a, 0] = pa0 * i00 + pa1 * i01
        gain[a, 1] = pa0 * i01 + pa1 * i11
    for a in range(4):
        mean[g, a] += gain[a, 0] * rx + gain[a, 1] * ry
    for a in range(4):
        for b in range(4):
            cov_next[a, b] = cov[g, a, b] - gain[a, 0] * cov[g, 0, b] - gain[a, 1] * cov[g, 1, b]
    for a in range(4):
        for b in range(a, 4):
            v = 0.5 * (cov_next[a, b] + cov_next[b, a])
            cov[g, a, b] = v
            cov[g, b, a] = v


@njit(cache=True, inline="always")
def _capped_velocity(vx: float, vy: float, vmax: float) -> tuple[float, float]:
    """(vx, vy) scaled down to a speed of at most vmax."""
    sp = np.sqrt(vx**2 + vy**2)
    if sp > vmax:
        return vx * (vmax / sp), vy * (vmax / sp)
    return vx, vy


@njit(cache=True, inline="always")
def _radius_ahead(var_x: float, var_y: float, var_vx: float, var_vy: float, lead: float) -> float:
    """The 1-sigma radius of a position predicted `lead` s ahead, from the variances of
    the position and the velocity (their covariance left out)."""
    var = var_x + var_y + lead * lead * (var_vx + var_vy)
    return np.sqrt(max(var, 0.0))


@njit(cache=True, inline="always")
def _begin_track(
    state: tuple[np.ndarray, ...],
    g: int,
    fix: tuple[float, float, int, float],
    sig: float,
    vsig: float,
) -> None:
    """Tag g's first track, standing at `fix` (x, y, level, t) with noise sigma `sig`."""
    mean, cov, last_t, level, alive, gated = state
    x, y, lv, t = fix
    _start(mean, cov, g, x, y, sig, vsig)
    alive[g] = True
    gated[g] = 0
    level[g] = lv
    last_t[g] = t


@njit(cache=True)
def _track_kernel(
    fixes: tuple[np.ndarray, ...],
    state: tuple[np.ndarray, ...],
    params: tuple[float, float, int, float, int, float, float, float, bool],
    walkable: _Walkable,
    out: tuple[np.ndarray, ...],
) -> None:
    """Filter every fix in order; state arrays and outputs are written in place.

    fixes: t, tag, x, y, sigma, level, ok, t_out; state: a `TrackState`'s arrays; params:
    accel noise, max speed, gate, gate margin, reset count, initial speed sigma, min fix
    sigma, fix sigma scale, constrain; out: x, y, uncertainty, level, valid.
    """
    t, tag, fx, fy, fsig, flevel, fok, t_out = fixes
    mean, cov, last_t, level, alive, gated = state
    q, vmax, gate, gate_k, reset_after, vsig, min_sig, sig_scale, constrain = params
    out_x, out_y, out_u, out_level, out_valid = out
    gating = (gate, vmax, gate_k, reset_after)
    x0, y0, cell, inside, near_x, near_y = walkable
    # Scratch of the Kalman update, allocated once rather than per fix.
    gain = np.empty((4, 2))
    cov_next = np.empty((4, 4))
    for i in range(len(t)):
        g = tag[i]
        sig = max(min_sig, sig_scale * fsig[i])
        ok = fok[i] and np.isfinite(fx[i]) and np.isfinite(fy[i])
        if not alive[g]:
            if not ok:
                out_valid[i] = False
                continue
            zx, zy = fx[i], fy[i]
            if constrain:
                zx, zy = _project_one(flevel[i], zx, zy, x0, y0, cell, inside, near_x, near_y)
            _begin_track(state, g, (zx, zy, flevel[i], t[i]), sig, vsig)
        else:
            dt = t[i] - last_t[g]
            _predict_to(mean, cov, g, dt, q)
            if dt > 0.0:
                last_t[g] = t[i]
            if ok and flevel[i] != level[g]:
                # A level change: the old track says nothing about the new floor.
                _start(mean, cov, g, fx[i], fy[i], sig, vsig)
                level[g] = flevel[i]
                gated[g] = 0
            elif ok:
                rx = fx[i] - mean[g, 0]
                ry = fy[i] - mean[g, 1]
                pos_var = 0.5 * (cov[g, 0, 0] + cov[g, 1, 1])
                use, restart, gated[g], r2 = _speed_gate(
                    rx, ry, sig * sig, pos_var, dt, gated[g], gating
                )
                if restart:
                    _start(mean, cov, g, fx[i], fy[i], sig, vsig)
                elif use:
                    _kalman_update(mean, cov, g, (rx, ry), r2, gain, cov_next)
            # Walking speed: a person does not exceed vmax, whatever the fixes say.
            mean[g, 2], mean[g, 3] = _capped_velocity(mean[g, 2], mean[g, 3], vmax)
            if constrain:
                px, py = _project_one(
                    level[g], mean[g, 0], mean[g, 1], x0, y0, cell, inside, near_x, near_y
                )
                mean[g, 0] = px
                mean[g, 1] = py
        # Report at the update time: the fix held at t (its readings' mean time).
        lead = max(t_out[i] - last_t[g], 0.0)
        ox = mean[g, 0] + lead * mean[g, 2]
        oy = mean[g, 1] + lead * mean[g, 3]
        if constrain and lead > 0.0:
            ox, oy = _project_one(level[g], ox, oy, x0, y0, cell, inside, near_x, near_y)
        out_x[i] = ox
        out_y[i] = oy
        out_u[i] = _radius_ahead(cov[g, 0, 0], cov[g, 1, 1], cov[g, 2, 2], cov[g, 3, 3], lead)
        out_level[i] = level[g]
        out_valid[i] = True


def track(
    state: TrackState,
    spec: TrackerSpec,
    grid: WalkableGrid,
    t: npt.NDArray[np.float64],
    tag: npt.NDArray[np.int32],
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    sigma: npt.NDArray[np.float64],
    level: npt.NDArray[np.int32],
    ok: npt.NDArray[np.bool_],
    t_out: npt.NDArray[np.float64] | None = None,
) -> Tracks:
    """Run the filter over fixes ordered by time (then tag); `state` is updated in place.

    `t` is when each fix holds (e.g. the mean time of its window's readings); the output
    is predicted to `t_out` (the update time; default `t`). A fix with `ok` False (no
    solution) only advances the tag's prediction.
    """
    n = len(t)
    if n:
        state.ensure(int(tag.max()) + 1)
    out_x = np.empty(n)
    out_y = np.empty(n)
    out_u = np.empty(n)
    out_level = np.empty(n, np.int32)
    out_valid = np.zeros(n, bool)
    fixes = (
        np.ascontiguousarray(t, np.float64),
        np.ascontiguousarray(tag, np.int64),
        np.ascontiguousarray(x, np.float64),
        np.ascontiguousarray(y, np.float64),
        np.ascontiguousarray(sigma, np.float64),
        np.ascontiguousarray(level, np.int64),
        np.ascontiguousarray(ok, np.bool_),
        np.ascontiguousarray(t if t_out is None else t_out, np.float64),
    )
    params = (
        float(spec.accel_noise),
        float(spec.max_speed),
        int(spec.gate),
        float(spec.gate_margin_sigma),
        int(spec.reset_after),
        float(spec.initial_speed_sigma),
        float(spec.min_fix_sigma),
        float(spec.fix_sigma_scale),
        bool(spec.constrain),
    )
    _track_kernel(
        fixes,
        (state.mean, state.cov, state.last_t, state.level, state.alive, state.gated),
        params,
        (grid.x0, grid.y0, grid.cell, grid.inside, grid.near_x, grid.near_y),
        (out_x, out_y, out_u, out_level, out_valid),
    )
    return Tracks(out_x, out_y, out_u, out_level, out_valid)


def predict(
    state: TrackState, tag: npt.NDArray[np.int32], t: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Predicted (x, y) of each tag at time t, NaN where the tag has no track: (n, 2)."""
    out = np.full((len(tag), 2), np.nan)
    known = tag < len(state.alive)
    idx = np.flatnonzero(known)
    alive = state.alive[tag[idx]]
    idx = idx[alive]
    g = tag[idx]
    dt = np.maximum(t[idx] - state.last_t[g], 0.0)
    out[idx, 0] = state.mean[g, 0] + dt * state.mean[g, 2]
    out[idx, 1] = state.mean[g, 1] + dt * state.mean[g, 3]
    return out
