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


@dataclass(frozen=True, slots=True, eq=False)
class RadioMap:
    """dB to subtract from a reader's reading at a place: `values[level, reader, row,
    column]`, cells of side `cell_m` from the south-west corner (x0, y0); outside the
    grid, 0."""

    values: npt.NDArray[np.float32]  # (levels, readers, rows, columns)
    x0: float
    y0: float
    cell_m: float

    def __post_init__(self) -> None:
        v = self.values
        if v.ndim != 4:
            raise ConfigError(
                f"radio map values must be (levels, readers, rows, columns), got shape {v.shape}"
            )
        if not (np.isfinite(self.x0) and np.isfinite(self.y0) and 0 < self.cell_m <= 10):
            raise ConfigError(
                f"radio map origin must be finite and its cell in (0, 10] m, got "
                f"({self.x0}, {self.y0}), cell {self.cell_m}"
            )
        if not np.all(np.isfinite(v)) or (v.size and float(np.abs(v).max()) > MAX_CORRECTION_DB):
            raise ConfigError(
                f"radio map values must be finite and within +-{MAX_CORRECTION_DB:g} dB"
            )

    @property
    def n_levels(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_readers(self) -> int:
        return int(self.values.shape[1])

    def correction(
        self,
        level: npt.NDArray[np.int32],
        position: npt.NDArray[np.float64],
        reader: npt.NDArray[np.int32],
    ) -> npt.NDArray[np.float64]:
        """dB each row's readers (n, k; -1 none) read above the model at the row's
        position (n, 2) on its level (n,): 0 for an unused slot, a position that is not
        finite or off the grid, or a level the map does not hold."""
        return _lookup(
            self.values, (self.x0, self.y0, self.cell_m), level.astype(np.int64), position, reader
        )


@njit(cache=True)
def _lookup(
    values: np.ndarray,
    frame: tuple[float, float, float],
    level: np.ndarray,
    position: np.ndarray,
    reader: np.ndarray,
) -> np.ndarray:
    """`RadioMap.correction`, one pass over the rows."""
    x0, y0, cell = frame
    n_levels, n_readers, n_rows, n_cols = values.shape
    n, k = reader.shape
    out = np.zeros((n, k))
    for i in range(n):
        x, y, lv = position[i, 0], position[i, 1], level[i]
        if not (np.isfinite(x) and np.isfinite(y)) or lv < 0 or lv >= n_levels:
            continue
        col = int(np.floor((x - x0) / cell))
        row = int(np.floor((y - y0) / cell))
        if row < 0 or row >= n_rows or col < 0 or col >= n_cols:
            continue
        for j in range(k):
            r = reader[i, j]
            if 0 <= r < n_readers:
                out[i, j] = values[lv, r, row, col]
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
    bounds: tuple[float, float, float, float],
    smoothing: Smoothing,
) -> RadioMap:
    """The radio map of these residuals over `bounds` (x0, y0, x1, y1) for `shape`
    (levels, readers): readings binned to cells, the bins' sums and counts smoothed by
    a separable Gaussian (a reading counts from its cell's centre, at most half a cell
    from where it was taken)."""
    n_levels, n_readers = shape
    x0, y0, x1, y1 = bounds
    cell = smoothing.cell_m
    cols = max(1, int(np.ceil((x1 - x0) / cell)))
    rows = max(1, int(np.ceil((y1 - y0) / cell)))
    col = np.floor((residuals.x - x0) / cell).astype(np.int64)
    row = np.floor((residuals.y - y0) / cell).astype(np.int64)
    keep = (
        (col >= 0)
        & (col < cols)
        & (row >= 0)
        & (row < rows)
        & (residuals.level >= 0)
        & (residuals.level < n_levels)
        & (residuals.reader >= 0)
        & (residuals.reader < n_readers)
        & np.isfinite(residuals.db)
    )
    flat = np.ravel_multi_index(
        (residuals.level[keep], residuals.reader[keep], row[keep], col[keep]),
        (n_levels, n_readers, rows, cols),
    )
    size = n_levels * n_readers * rows * cols
    total = np.bincount(flat, weights=residuals.db[keep], minlength=size)
    count = np.bincount(flat, minlength=size).astype(np.float64)
    shape4 = (n_levels, n_readers, rows, cols)
    along_y = _kernel(rows, cell, smoothing.bandwidth_m)
    along_x = _kernel(cols, cell, smoothing.bandwidth_m)
    # (rows x rows) @ grid @ (cols x cols) per level and reader: the separable Gaussian.
    num = along_y @ total.reshape(shape4) @ along_x
    den = along_y @ count.reshape(shape4) @ along_x
    values = np.clip(num / (den + smoothing.shrink), -MAX_CORRECTION_DB, MAX_CORRECTION_DB)
    return RadioMap(values.astype(np.float32), float(x0), float(y0), float(cell))


def _kernel(n: int, cell: float, bandwidth: float) -> npt.NDArray[np.float64]:
    """The Gaussian weights between every two of n cells along one axis."""
    centres = np.arange(n) * cell
    gap = centres[:, None] - centres[None, :]
    return np.exp(-(gap * gap) / (2.0 * bandwidth * bandwidth))
