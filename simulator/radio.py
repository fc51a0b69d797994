"""The radio: every badge's advertisements as heard by the readers, all badges at once.

Per advertisement and reader in earshot (one numba pass over badges x candidates):

    rssi = rssi_1m - 10 n log10(d) - walls x wall_db - floors x floor_db
           - body_db x (1 - cos a) / 2 + N(0, sigma_db)

with d the 3-D distance, a the angle between the wearer's heading and the direction to
the reader (a badge on a chest loses `body_db` toward a reader behind its wearer), a
packet lost with probability `packet_loss`, and a reading kept only at or above the
reader's sensitivity. Readers that are down hear nothing.

Not a badge x reader distance matrix: each level is cut into `cell_m` cells and every
cell keeps its `candidates` strongest readers (expected level, walls and floors
counted from the cell centre, once, when the table is built); a badge looks up its
cell and tries only those. The walls to each of those readers are counted on a raster of
the plan's rooms (each change of room along the line is a wall), from every raster cell
of the table cell, so a badge near a wall is heard from its own side of it.

Default parameters (`RadioParams()`) are fitted on the real tetam-ble recordings
(tests/data/tetam-ble: a beacon carried through a 20 x 18 m hall past twelve readers)
by `simulator/radio_fit.py`; see docs/simulator.md for the figures and what was not
fitted (walls, floors, body: the recordings have none of them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from geometry.model import Floorplan
from geometry.walls import RasterFrame, count_walls, room_raster

FloatArray = npt.NDArray[np.float64]

#: Columns of the motion array the radio reads (one row per badge).
T0, T1, X0, Y0, X1, Y1, HEADING, LEVEL = range(8)
MOTION_COLUMNS = 8


@dataclass(frozen=True, slots=True)
class RadioParams:
    """Radio model parameters; defaults fitted on tetam-ble (see the module docstring)."""

    interval_s: float = 1.0  # advertising interval of a badge
    rssi_1m: float = -58.8  # mean level at 1 m with the wearer facing the reader
    exponent: float = 1.40  # log-distance path-loss exponent
    sigma_db: float = 5.9  # shadowing and fading, per packet
    body_db: float = 6.0  # loss through the wearer toward a reader behind them
    wall_db: float = 6.0  # per interior wall crossed
    max_walls: int = 4  # walls counted at most (beyond, other paths carry the signal)
    floor_db: float = 18.0  # per floor between badge and reader
    sensitivity_dbm: float = -100.0  # weakest packet a reader reports
    packet_loss: float = 0.05  # a packet lost at random, whatever its level
    tag_height_m: float = 1.2  # a badge on a lanyard
    storey_m: float = 3.5  # height of one storey
    cell_m: float = 2.0  # side of a cell of the candidate table
    candidates: int = 10  # strongest readers kept per cell


@dataclass(frozen=True, slots=True)
class ReaderTable:
    """What the kernel needs to know of readers and cells, as flat arrays.

    `readers[r]` = x, y, z (above level 0's floor), rssi_1m, exponent; `grid[level]` =
    x0, y0, columns, rows, cell side; `candidate[level, cell, k]` a reader number (-1: none);
    `walls[level, spot, k]` the walls between it and each spot (a cell of the room
    raster, `spots[level]` laid out as `grid[level]`) of that cell; `reader_level[r]`
    the index of reader r's level (the floors in between are the difference).
    """

    readers: FloatArray
    grid: FloatArray
    candidate: npt.NDArray[np.int32]
    level_z: FloatArray  # floor height of each level above level 0
    walls: npt.NDArray[np.int8]
    spots: FloatArray
    reader_level: npt.NDArray[np.int64]


def build_reader_table(floorplan: Floorplan, params: RadioParams) -> ReaderTable:
    """The candidate table of a floorplan (readers in file order)."""
    levels = [lv.id for lv in floorplan.levels]
    ordinal = {lv.id: lv.ordinal for lv in floorplan.levels}
    level_z = np.array([params.storey_m * ordinal[lv] for lv in levels])
    rd = floorplan.readers
    readers = np.array(
        [
            [r.x, r.y, r.z + params.storey_m * ordinal[r.level], params.rssi_1m, params.exponent]
            for r in rd
        ],
        dtype=np.float64,
    ).reshape(len(rd), 5)
    reader_level = np.array([levels.index(r.level) for r in rd], dtype=np.int64)
    bounds = np.array(
        [z.polygon.bounds for z in floorplan.zones] + [[r.x, r.y, r.x, r.y] for r in rd]
    )
    x0, y0 = bounds[:, 0].min() - 5.0, bounds[:, 1].min() - 5.0
    x1, y1 = bounds[:, 2].max() + 5.0, bounds[:, 3].max() + 5.0
    cols = int(np.ceil((x1 - x0) / params.cell_m))
    rows = int(np.ceil((y1 - y0) / params.cell_m))
    k = params.candidates
    candidate = np.full((len(levels), rows * cols, k), -1, dtype=np.int32)
    res = 0.5
    frame = RasterFrame(x0, y0, res, int(np.ceil((x1 - x0) / res)), int(np.ceil((y1 - y0) / res)))
    rooms = np.stack([room_raster(floorplan, level_id, frame) for level_id in levels])
    for li in range(len(levels)):
        _fill_level(
            li,
            rooms[li],
            (x0, y0, res, params.cell_m, cols, rows),
            readers,
            reader_level,
            level_z,
            params,
            candidate,
        )
    grid = np.tile(np.array([x0, y0, cols, rows, params.cell_m]), (len(levels), 1))
    spots = np.tile(np.array([x0, y0, frame.columns, frame.rows, res]), (len(levels), 1))
    walls = _walls_per_spot(rooms, spots, grid, candidate, readers, params.max_walls)
    return ReaderTable(readers, grid, candidate, level_z, walls, spots, reader_level)


def _fill_level(
    li: int,
    raster: np.ndarray,
    frame: tuple[float, float, float, float, int, int],
    readers: FloatArray,
    reader_level: npt.NDArray[np.int64],
    level_z: FloatArray,
    params: RadioParams,
    candidate: npt.NDArray[np.int32],
) -> None:
    """Candidates of every cell of level `li`: the strongest expected links, walls counted."""
    x0, y0, res, cell, cols, rows = frame
    cx = x0 + (np.arange(cols) + 0.5) * cell
    cy = y0 + (np.arange(rows) + 0.5) * cell
    gx, gy = (a.ravel() for a in np.meshgrid(cx, cy))
    z = level_z[li] + params.tag_height_m
    d = np.sqrt(
        (gx[:, None] - readers[None, :, 0]) ** 2
        + (gy[:, None] - readers[None, :, 1]) ** 2
        + (z - readers[None, :, 2]) ** 2
    )
    floors = np.abs(reader_level[None, :] - li).astype(np.float64)
    mean = readers[None, :, 3] - 10 * readers[None, :, 4] * np.log10(np.maximum(d, 0.5))
    mean -= params.floor_db * floors
    # Walls are counted only for the links that could still be among the strongest.
    shortlist = np.argsort(-mean, axis=1, kind="stable")[:, : 3 * params.candidates]
    walls = _walls_of(raster, res, x0, y0, gx, gy, readers, shortlist)
    level = np.take_along_axis(mean, shortlist, 1) - params.wall_db * np.minimum(
        walls, params.max_walls
    )
    keep = np.argsort(-level, axis=1, kind="stable")[:, : params.candidates]
    chosen = np.take_along_axis(shortlist, keep, 1)
    heard = np.take_along_axis(level, keep, 1) >= params.sensitivity_dbm - 3 * params.sigma_db
    candidate[li, :, : chosen.shape[1]] = np.where(heard, chosen, -1)


@numba.njit(cache=True)
def _walls_of(
    raster: np.ndarray,
    res: float,
    x0: float,
    y0: float,
    gx: np.ndarray,
    gy: np.ndarray,
    readers: np.ndarray,
    shortlist: np.ndarray,
) -> np.ndarray:
    out = np.zeros(shortlist.shape, dtype=np.float64)
    for c in range(shortlist.shape[0]):
        for k in range(shortlist.shape[1]):
            r = shortlist[c, k]
            # Every change of room a wall (slit 0): the rooms of a plan share their walls.
            out[c, k] = count_walls(
                raster, (x0, y0, res), (gx[c], gy[c]), (readers[r, 0], readers[r, 1]), 0.0
            )
    return out


@numba.njit(cache=True)
def _walls_per_spot(rooms, spots, grid, candidate, readers, max_walls):  # type: ignore[no-untyped-def]
    """Walls (at most `max_walls`) from each spot's centre to each candidate of its cell."""
    levels, _, k_max = candidate.shape
    out = np.zeros((levels, rooms.shape[1] * rooms.shape[2], k_max), dtype=np.int8)
    for li in range(levels):
        x0, y0, res = spots[li, 0], spots[li, 1], spots[li, 4]
        columns, rows = int(spots[li, 2]), int(spots[li, 3])
        for row in range(rows):
            for col in range(columns):
                x, y = x0 + (col + 0.5) * res, y0 + (row + 0.5) * res
                c = _cell_of(grid[li], x, y)
                for k in range(k_max):
                    r = candidate[li, c, k]
                    if r < 0:
                        break
                    reader_xy = (readers[r, 0], readers[r, 1])
                    walls = count_walls(rooms[li], (x0, y0, res), (x, y), reader_xy, 0.0)
                    out[li, row * columns + col, k] = min(walls, max_walls)
    return out


@numba.njit(cache=True)
def _cell_of(grid_row: np.ndarray, x: float, y: float) -> int:
    """The number of the grid cell (x0, y0, columns, rows, side) holding (x, y), clamped."""
    cols, rows, side = int(grid_row[2]), int(grid_row[3]), grid_row[4]
    col = min(max(int((x - grid_row[0]) / side), 0), cols - 1)
    row = min(max(int((y - grid_row[1]) / side), 0), rows - 1)
    return row * cols + col


@dataclass(frozen=True, slots=True)
class Heard:
    """Readings of one radio step, time-ordered: t, badge, reader number, rssi."""

    t: FloatArray
    badge: npt.NDArray[np.int32]
    reader: npt.NDArray[np.int32]
    rssi: npt.NDArray[np.float32]


def _param_vector(params: RadioParams) -> FloatArray:
    return np.array(
        [
            params.interval_s,
            params.sigma_db,
            params.sensitivity_dbm,
            params.packet_loss,
            params.body_db,
            params.tag_height_m,
            params.wall_db,
            params.floor_db,
        ]
    )


def hear_step(
    table: ReaderTable,
    params: RadioParams,
    motion: tuple[FloatArray, FloatArray],
    badges: tuple[npt.NDArray[np.bool_], FloatArray],
    window: tuple[float, float],
    reader_up: npt.NDArray[np.bool_],
    seed: int,
) -> Heard:
    """Every advertisement in [t0, t1) of every transmitting badge, heard by readers that are up.

    `motion` is (current, previous) segment arrays (rows: badges, columns: T0..LEVEL);
    an advertisement before the current segment's start uses the previous segment.
    `badges` is (transmitting, phase_s). The same arguments and seed give the same bytes.
    """
    current, previous = motion
    transmitting, phase = badges
    n = len(current)
    per_badge = table.candidate.shape[2] * (
        int(np.ceil((window[1] - window[0]) / params.interval_s)) + 1
    )
    t = np.empty(n * per_badge)
    badge = np.empty(n * per_badge, dtype=np.int32)
    reader = np.empty(n * per_badge, dtype=np.int32)
    rssi = np.empty(n * per_badge, dtype=np.float32)
    # Badges in the order of their first advertisement in the window: the kernel then
    # writes the readings in time order, round after round, and nothing needs sorting.
    first = window[0] + np.mod(phase - window[0], params.interval_s)
    order = np.argsort(first, kind="stable").astype(np.int64)
    count = _hear_kernel(
        (current, previous),
        (transmitting, first, order),
        (
            table.readers,
            table.grid,
            table.candidate,
            table.level_z,
            table.walls,
            table.spots,
            table.reader_level,
        ),
        reader_up,
        (_param_vector(params), window[1], seed),
        (t, badge, reader, rssi),
    )
    return Heard(t[:count], badge[:count], reader[:count], rssi[:count])


@numba.njit(cache=True)
def _position(seg: np.ndarray, t: float) -> tuple[float, float]:
    span = seg[T1] - seg[T0]
    f = 1.0 if span <= 0 else min(max((t - seg[T0]) / span, 0.0), 1.0)
    return seg[X0] + (seg[X1] - seg[X0]) * f, seg[Y0] + (seg[Y1] - seg[Y0]) * f


@numba.njit(cache=True)
def _hear_kernel(motion, badges, table, reader_up, settings, out):  # type: ignore[no-untyped-def]
    """Readings of every advertisement in the window; returns how many were written to `out`."""
    current, previous = motion
    transmitting, first, order = badges
    readers, grid, candidate, level_z, walls, spots, reader_level = table
    p, t1, seed = settings
    out_t, out_badge, out_reader, out_rssi = out
    np.random.seed(seed)
    interval, sigma, sens, loss, body, tag_h = p[0], p[1], p[2], p[3], p[4], p[5]
    wall_db, floor_db = p[6], p[7]
    n_out = 0
    rounds = int(np.ceil((t1 - first.min()) / interval)) if len(first) else 0
    for m in range(rounds):
        for i in order:
            t = first[i] + m * interval
            if not transmitting[i] or t >= t1:
                continue
            seg = current[i] if t >= current[i, T0] else previous[i]
            x, y = _position(seg, t)
            level = int(seg[LEVEL])
            hx, hy = np.cos(seg[HEADING]), np.sin(seg[HEADING])
            c = _cell_of(grid[level], x, y)
            spot = _cell_of(spots[level], x, y)
            z = level_z[level] + tag_h
            for k in range(candidate.shape[2]):
                r = candidate[level, c, k]
                if r < 0:
                    break
                if not reader_up[r]:
                    continue
                dx, dy, dz = readers[r, 0] - x, readers[r, 1] - y, readers[r, 2] - z
                flat = np.sqrt(dx * dx + dy * dy)
                d = max(np.sqrt(flat * flat + dz * dz), 0.5)
                facing = (dx * hx + dy * hy) / flat if flat > 1e-6 else 1.0
                floors = abs(reader_level[r] - level)
                level_db = readers[r, 3] - 10.0 * readers[r, 4] * np.log10(d) - floor_db * floors
                level_db -= wall_db * walls[level, spot, k]
                level_db -= body * (1.0 - facing) * 0.5
                level_db += sigma * np.random.standard_normal()
                lost = np.random.random() < loss
                if lost or level_db < sens:
                    continue
                out_t[n_out] = t
                out_badge[n_out] = i
                out_reader[n_out] = r
                out_rssi[n_out] = min(max(np.round(level_db), -127.0), 0.0)
                n_out += 1
    return n_out
