"""Level selection: which floor a tag is on, from its strongest readers, with hysteresis.

Two steps, both over whole batches:

1. `level_scores(reader_level, rssi, count, n_levels, top=2)` -> (n, n_levels): per row
   (a tag's window) and level, the mean RSSI of that level's `top` strongest readers in
   the row; -inf where the row heard no reader of that level. Rows are packed as
   `trilaterate` takes them (valid columns first); NaN RSSI and reader levels outside
   0..n_levels-1 are skipped.
2. `select_levels(scores, tag, state, spec)` -> (level (n,), new state): walks the rows
   in order (rows of one tag must be in time order; tags may interleave) and keeps, per
   tag, the current level, a candidate level and a streak:

   - no current level yet, or no reader of the current level heard in this row: take
     the best-scoring level at once (ties: the lower index);
   - else the best other level must beat the current one by `hysteresis_db` in
     `confirm` consecutive rows of that tag before the tag switches to it (a row where
     it does not, or where a different level leads, restarts the count);
   - a row that heard nothing at all keeps the current level (-1 if none yet).

   The state is a value: arrays indexed by tag code, grown as new tags appear; the
   function returns a new one and never mutates its input.

Pure numpy + numba, no I/O. Deterministic (integer and comparison logic only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

from geometry.errors import ConfigError, InputError


@dataclass(frozen=True, slots=True)
class LevelSpec:
    """Hysteresis of level changes: margin (dB), rows in a row, readers averaged per level."""

    hysteresis_db: float = 4.0
    confirm: int = 2
    top: int = 2

    def __post_init__(self) -> None:
        if not (self.hysteresis_db >= 0 and np.isfinite(self.hysteresis_db)):
            raise ConfigError(f"hysteresis_db must be >= 0 dB, got {self.hysteresis_db}")
        if not 1 <= self.confirm <= 1000:
            raise ConfigError(f"confirm must be between 1 and 1000 rows, got {self.confirm}")
        if not 1 <= self.top <= 64:
            raise ConfigError(f"top must be between 1 and 64 readers, got {self.top}")


@dataclass(frozen=True, slots=True)
class LevelState:
    """Per tag code: current level (-1 unknown), candidate level (-1 none) and its streak."""

    level: npt.NDArray[np.int32]
    candidate: npt.NDArray[np.int32]
    streak: npt.NDArray[np.int32]

    @classmethod
    def empty(cls, n_tags: int = 0) -> LevelState:
        """No tag placed yet."""
        return cls(
            np.full(n_tags, -1, np.int32), np.full(n_tags, -1, np.int32), np.zeros(n_tags, np.int32)
        )

    def grown(self, n_tags: int) -> LevelState:
        """A copy with room for tag codes below n_tags."""
        extra = max(0, n_tags - len(self.level))
        return LevelState(
            np.concatenate((self.level, np.full(extra, -1, np.int32))),
            np.concatenate((self.candidate, np.full(extra, -1, np.int32))),
            np.concatenate((self.streak, np.zeros(extra, np.int32))),
        )


@njit(cache=True)
def _scores_kernel(
    reader_level: np.ndarray, rssi: np.ndarray, count: np.ndarray, n_levels: int, top: int
) -> np.ndarray:
    """Mean of the `top` strongest RSSI per (row, level); -inf where none."""
    n, K = rssi.shape
    out = np.full((n, n_levels), -np.inf)
    used = np.zeros(n_levels, np.int64)
    sums = np.zeros(n_levels)
    taken = np.zeros(K, np.bool_)
    for i in range(n):
        used[:] = 0
        sums[:] = 0.0
        taken[:] = False
        c = min(max(count[i], 0), K)
        # Columns are strongest first, but do not rely on it: take the best `top`
        # by repeated selection (K is a handful).
        for _ in range(c):
            best = -1
            bv = -np.inf
            for k in range(c):
                lv = reader_level[i, k]
                v = rssi[i, k]
                if taken[k] or lv < 0 or lv >= n_levels or not np.isfinite(v):
                    continue
                if used[lv] >= top:
                    continue
                if best < 0 or v > bv:
                    best = k
                    bv = v
            if best < 0:
                break
            taken[best] = True
            lv = reader_level[i, best]
            used[lv] += 1
            sums[lv] += bv
        for lv in range(n_levels):
            if used[lv] > 0:
                out[i, lv] = sums[lv] / used[lv]
    return out


def level_scores(
    reader_level: npt.ArrayLike,
    rssi: npt.ArrayLike,
    count: npt.ArrayLike,
    n_levels: int,
    top: int = 2,
) -> npt.NDArray[np.float64]:
    """(n, n_levels): mean RSSI of each level's `top` strongest readers per row; -inf: none."""
    lv = np.ascontiguousarray(reader_level, dtype=np.int64)
    rs = np.ascontiguousarray(rssi, dtype=np.float64)
    cnt = np.ascontiguousarray(count, dtype=np.int64)
    if lv.ndim != 2 or lv.shape != rs.shape or cnt.shape != (rs.shape[0],):
        raise InputError(
            f"level_scores: reader_level {lv.shape} and rssi {rs.shape} must be (n, K) and "
            f"count {cnt.shape} (n,)"
        )
    if n_levels < 1 or top < 1:
        raise InputError(f"level_scores: n_levels ({n_levels}) and top ({top}) must be >= 1")
    return np.asarray(_scores_kernel(lv, rs, cnt, int(n_levels), int(top)))


@njit(cache=True)
def _select_kernel(
    scores: np.ndarray,
    tag: np.ndarray,
    level: np.ndarray,
    candidate: np.ndarray,
    streak: np.ndarray,
    margin: float,
    confirm: int,
    out: np.ndarray,
) -> None:
    """Walk the rows in order, updating the per-tag state in place."""
    n, L = scores.shape
    for i in range(n):
        g = tag[i]
        best = -1
        bv = -np.inf
        for lv in range(L):
            if scores[i, lv] > bv:
                bv = scores[i, lv]
                best = lv
        cur = level[g]
        if best < 0:
            out[i] = cur  # heard nothing: keep what we had
            continue
        if cur < 0 or cur >= L or not scores[i, cur] > -np.inf:
            level[g] = best
            candidate[g] = -1
            streak[g] = 0
            out[i] = best
            continue
        # The best level other than the current one.
        other = -1
        ov = -np.inf
        for lv in range(L):
            if lv != cur and scores[i, lv] > ov:
                ov = scores[i, lv]
                other = lv
        if other >= 0 and ov > scores[i, cur] + margin:
            if candidate[g] == other:
                streak[g] += 1
            else:
                candidate[g] = other
                streak[g] = 1
            if streak[g] >= confirm:
                level[g] = other
                candidate[g] = -1
                streak[g] = 0
        else:
            candidate[g] = -1
            streak[g] = 0
        out[i] = level[g]


def select_levels(
    scores: npt.ArrayLike,
    tag: npt.ArrayLike,
    state: LevelState | None = None,
    spec: LevelSpec | None = None,
) -> tuple[npt.NDArray[np.int32], LevelState]:
    """Level index per row (-1: never heard) and the new per-tag state (module docstring)."""
    sc = np.ascontiguousarray(scores, dtype=np.float64)
    tg = np.ascontiguousarray(tag, dtype=np.int64)
    if sc.ndim != 2 or tg.shape != (sc.shape[0],):
        raise InputError(
            f"select_levels: scores must be (n, n_levels) and tag (n,), got {sc.shape}, {tg.shape}"
        )
    if len(tg) and tg.min() < 0:
        raise InputError("select_levels: tag codes must be >= 0")
    spec = spec or LevelSpec()
    n_tags = int(tg.max()) + 1 if len(tg) else 0
    new = (state or LevelState.empty()).grown(n_tags)
    out = np.empty(len(tg), np.int32)
    _select_kernel(
        sc,
        tg,
        new.level,
        new.candidate,
        new.streak,
        float(spec.hysteresis_db),
        int(spec.confirm),
        out,
    )
    return out, new
