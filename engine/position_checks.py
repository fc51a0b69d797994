"""Checks of a position batch before the zone state machine takes it: rejected whole."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.batches import PositionBatch
from geometry.errors import InputError


class BatchRejectedError(InputError):
    """A malformed batch: rejected whole, the engine state unchanged."""


def check_time_order(what: str, t: npt.NDArray[np.float64], newest: float, tol: float) -> None:
    """Raise BatchRejectedError naming the first row older than the newest time so far by
    more than `tol` seconds (`newest`: the newest time accepted before this batch)."""
    running = np.maximum.accumulate(np.concatenate(([newest], t)))[:-1]
    late = t < running - tol
    if late.any():
        row = int(np.argmax(late))
        raise BatchRejectedError(
            f"{what}: row {row}: t={float(t[row]):.3f} is older than "
            f"{float(running[row]):.3f} by more than the tolerance {tol} s "
            "(out of order); rejected whole"
        )


def check_positions(
    batch: PositionBatch, n_levels: int, n_students: int | None, newest: float, tol: float
) -> None:
    """Raise BatchRejectedError when a batch is malformed: columns of unequal length, a
    coordinate or time not finite, a negative or non-finite uncertainty, an unknown
    level code, a student index past `n_students` (None: not checked), a row older than
    `newest` by more than `tol` seconds."""
    n = len(batch.t)
    cols: dict[str, npt.NDArray[np.generic]] = {
        "tag": batch.tag,
        "level": batch.level,
        "x": batch.x,
        "y": batch.y,
        "uncertainty": batch.uncertainty,
    }
    for name, a in cols.items():
        if a.ndim != 1 or len(a) != n:
            raise BatchRejectedError(
                f"position batch: column {name!r} has {len(a)} rows, t has {n}; rejected whole"
            )
    if n == 0:
        return
    for name, a in (("t", batch.t), ("x", batch.x), ("y", batch.y)):
        if not np.isfinite(a).all():
            row = int(np.argmin(np.isfinite(a)))
            raise BatchRejectedError(
                f"position batch: row {row}: {name} is not finite; rejected whole"
            )
    u = batch.uncertainty
    if not (np.isfinite(u) & (u >= 0)).all():
        row = int(np.argmin(np.isfinite(u) & (u >= 0)))
        raise BatchRejectedError(
            f"position batch: row {row}: uncertainty must be finite and >= 0; rejected whole"
        )
    bad = (batch.level < 0) | (batch.level >= n_levels)
    if bad.any():
        row = int(np.argmax(bad))
        raise BatchRejectedError(
            f"position batch: row {row}: level code {int(batch.level[row])} is not one of "
            f"the {n_levels} levels; rejected whole"
        )
    bad_tag = (batch.tag < 0) | (batch.tag >= (n_students or 0))
    if n_students is not None and bad_tag.any():
        raise BatchRejectedError(
            f"position batch: row {int(np.argmax(bad_tag))}: the student index is not "
            "one the consent gate gave out; rejected whole"
        )
    check_time_order("position batch", batch.t, newest, tol)
