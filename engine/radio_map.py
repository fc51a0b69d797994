"""A radio map from the site survey: per reader, what its readings differ from the
path-loss model by, place by place.

Log-distance path loss with walls is a smooth model; a real site adds furniture, metal,
a reader mounted behind a pillar: a reader reads some corners of a room several dB off
what its distance says, the same way every time. A survey walk measures that at known
positions. Per level and reader, the survey's residuals (reading, plus what the walls
took, less the model, at the true position) are smoothed on a grid by Gaussian kernel
regression and shrunk toward 0 where few readings were taken:

    map(cell) = sum_i w_i r_i / (sum_i w_i + shrink),  w_i = exp(-d_i^2 / (2 h^2))

so a cell far from the survey corrects by 0 and a cell crossed once by a walk corrects
by a fraction of what that walk saw. The locator subtracts the map at its fix from each
reading and solves again (as it does with walls; engine/locate.py). `sts calibrate`
fits it (`sts.survey_fit.fit_radio_map`) and stores it beside the calibration file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

from geometry.errors import ConfigError

#: The largest correction a map may hold, dB: beyond, it is not a site effect but a
#: broken reader or a corrupted file.
MAX_CORRECTION_DB = 40.0


#: Columns of a tile's row in `RadioMap.index`.
OFFSET, ROW0, COL0, ROWS, COLS = range(5)
#: The kernel is cut this many bandwidths from the readings (its weight there: 1%).
KERNEL_REACH = 3.0


@dataclass(frozen=True, slots=True, eq=False)
class RadioMap:
    """dB a reader reads above the model at a place, per level and reader: a tile of
    cells of side `cell_m` (counted from the south-west corner x0, y0) around where the
    survey heard that reader on that level; outside its tile, 0.

    `index[level, reader]` = (offset into `tiles`, first row, first column, rows,
    columns); a tile is stored row by row. Tiles keep a campus small: a reader is heard
    over a few rooms, not over the whole site."""

    tiles: npt.NDArray[np.float32]  # (cells of every tile,)
    index: npt.NDArray[np.int64]  # (levels, readers, 5)
    x0: float
    y0: float
    cell_m: float

    def __post_init__(self) -> None:
        if self.tiles.ndim != 1 or self.index.ndim != 3 or self.index.shape[2] != 5:
            raise ConfigError(
                "radio map tiles must be (cells,) and its index (levels, readers, 5), got "
                f"{self.tiles.shape} and {self.index.shape}"
            )
        if not (np.isfinite(self.x0) and np.isfinite(self.y0) and 0 < self.cell_m <= 10):
            raise ConfigError(
                f"radio map origin must be finite and its cell in (0, 10] m, got "
                f"({self.x0}, {self.y0}), cell {self.cell_m}"
            )
        ix = self.index.reshape(-1, 5)
        ends = ix[:, OFFSET] + ix[:, ROWS] * ix[:, COLS]
        if ix.size and (ix[:, [OFFSET, ROWS, COLS]].min() < 0 or ends.max() > len(self.tiles)):
            raise ConfigError("radio map index points outside its tiles")
        if not np.all(np.isfinite(self.tiles)) or (
            self.tiles.size and float(np.abs(self.tiles).max()) > MAX_CORRECTION_DB
        ):
            raise ConfigError(
                f"radio map values must be finite and within +-{MAX_CORRECTION_DB:g} dB"
            )

    @property
    def n_levels(self) -> int:
        return int(self.index.shape[0])

    @property
    def n_readers(self) -> int:
        return int(self.index.shape[1])

    def correction(
        self,
        level: npt.NDArray[np.int32],
        position: npt.NDArray[np.float64],
        reader: npt.NDArray[np.int32],
    ) -> npt.NDArray[np.float64]:
        """dB each row's readers (n, k; -1 none) read above the model at the row's
        position (n, 2) on its level (n,): 0 for an unused slot, a position that is not
        finite or off the reader's tile, or a level the map does not hold."""
        return _lookup(
            (self.tiles, self.index),
            (self.x0, self.y0, self.cell_m),
            level.astype(np.int64),
            position,
            reader,
        )


@njit(cache=True)
def _lookup(
    grid: tuple[np.ndarray, np.ndarray],
    frame: tuple[float, float, float],
    level: np.ndarray,
    position: np.ndarray,
    reader: np.ndarray,
) -> np.ndarray:
    """`RadioMap.correction`, one pass over the rows."""
    tiles, index = grid
    x0, y0, cell = frame
    n_levels, n_readers, _ = index.shape
    n, k = reader.shape
    out = np.zeros((n, k))
    for i in range(n):
        x, y, lv = position[i, 0], position[i, 1], level[i]
        if not (np.isfinite(x) and np.isfinite(y)) or lv < 0 or lv >= n_levels:
            continue
        col = int(np.floor((x - x0) / cell))
        row = int(np.floor((y - y0) / cell))
        for j in range(k):
            r = reader[i, j]
            if r < 0 or r >= n_readers:
                continue
            tile = index[lv, r]
            tr, tc = row - tile[1], col - tile[2]
            if 0 <= tr < tile[3] and 0 <= tc < tile[4]:
                out[i, j] = tiles[tile[0] + tr * tile[4] + tc]
    return out


@dataclass(frozen=True, slots=True)
class Smoothing:
    """How survey residuals become a map: kernel bandwidth (m), shrink toward 0 (in
    readings' worth of weight), cell side (m)."""

    bandwidth_m: float
    shrink: float
    cell_m: float


@dataclass(frozen=True, slots=True)
class Residuals:
    """Survey residuals, one per reading: where (x, y, level index), which reader, dB."""

    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    level: npt.NDArray[np.int64]
    reader: npt.NDArray[np.int64]
    db: npt.NDArray[np.float64]


def smooth_residuals(
    residuals: Residuals,
    shape: tuple[int, int],
    origin: tuple[float, float],
    smoothing: Smoothing,
) -> RadioMap:
    """The radio map of these residuals for `shape` (levels, readers), cells counted
    from `origin`: per level and reader, the readings binned to cells, the bins' sums
    and counts smoothed by a separable Gaussian over a tile KERNEL_REACH bandwidths
    around them (a reading counts from its cell's centre, at most half a cell from where
    it was taken)."""
    n_levels, n_readers = shape
    cell = smoothing.cell_m
    col = np.floor((residuals.x - origin[0]) / cell).astype(np.int64)
    row = np.floor((residuals.y - origin[1]) / cell).astype(np.int64)
    usable = (
        np.isfinite(residuals.db)
        & np.isfinite(residuals.x)
        & np.isfinite(residuals.y)
        & (residuals.level >= 0)
        & (residuals.level < n_levels)
        & (residuals.reader >= 0)
        & (residuals.reader < n_readers)
    )
    reach = int(np.ceil(KERNEL_REACH * smoothing.bandwidth_m / cell))
    index = np.zeros((n_levels, n_readers, 5), np.int64)
    tiles: list[npt.NDArray[np.float32]] = []
    offset = 0
    pair = residuals.level * n_readers + residuals.reader
    # Readings grouped by (level, reader) with one sort, not a mask over all per pair.
    order = np.flatnonzero(usable)
    order = order[np.argsort(pair[order], kind="stable")]
    keys, starts = np.unique(pair[order], return_index=True)
    ends = np.append(starts[1:], len(order))
    for key, first, last in zip(keys.tolist(), starts.tolist(), ends.tolist(), strict=True):
        mine = order[first:last]
        r0, c0 = int(row[mine].min()) - reach, int(col[mine].min()) - reach
        rows = int(row[mine].max()) + reach + 1 - r0
        cols = int(col[mine].max()) + reach + 1 - c0
        local = (row[mine] - r0) * cols + (col[mine] - c0)
        total = np.bincount(local, weights=residuals.db[mine], minlength=rows * cols)
        count = np.bincount(local, minlength=rows * cols).astype(np.float64)
        along_y = _kernel(rows, cell, smoothing.bandwidth_m)
        along_x = _kernel(cols, cell, smoothing.bandwidth_m)
        # (rows x rows) @ grid @ (cols x cols): the separable Gaussian.
        num = along_y @ total.reshape(rows, cols) @ along_x
        den = along_y @ count.reshape(rows, cols) @ along_x
        tile = np.clip(num / (den + smoothing.shrink), -MAX_CORRECTION_DB, MAX_CORRECTION_DB)
        tiles.append(tile.astype(np.float32).ravel())
        index[key // n_readers, key % n_readers] = (offset, r0, c0, rows, cols)
        offset += rows * cols
    flat = np.concatenate(tiles) if tiles else np.zeros(0, np.float32)
    return RadioMap(flat, index, float(origin[0]), float(origin[1]), float(cell))


def _kernel(n: int, cell: float, bandwidth: float) -> npt.NDArray[np.float64]:
    """The Gaussian weights between every two of n cells along one axis."""
    centres = np.arange(n) * cell
    gap = centres[:, None] - centres[None, :]
    return np.exp(-(gap * gap) / (2.0 * bandwidth * bandwidth))
