"""Columnar batches that cross the engine's boundaries: readings in, positions out.

No Python object per reading: each batch is a handful of equal-length numpy arrays.
Tags and readers are small integers; the tables that name them live beside the batch
(`tag_ids`, `reader_ids`) so a batch can be decoded for output without a lookup per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from geometry.errors import InputError

#: The times a batch row may carry, epoch seconds: from 1970 to 2100-01-01 UTC. A time in
#: milliseconds (1.7e12), or a corrupt 1e18, falls outside and is refused as such.
TIME_MIN_S = 0.0
TIME_MAX_S = 4_102_444_800.0


def _check_columns(kind: str, columns: dict[str, np.ndarray]) -> None:
    lengths = {name: len(a) for name, a in columns.items()}
    if len(set(lengths.values())) > 1:
        raise InputError(f"{kind}: columns have different lengths {lengths}; build them together")
    for name, a in columns.items():
        if a.ndim != 1:
            raise InputError(f"{kind}: column {name!r} must be one-dimensional, got {a.shape}")


@dataclass(frozen=True, slots=True)
class ReadingBatch:
    """RSSI readings: t (s, float64), tag (int32), reader (int32), rssi (dBm, float32)."""

    t: npt.NDArray[np.float64]
    tag: npt.NDArray[np.int32]
    reader: npt.NDArray[np.int32]
    rssi: npt.NDArray[np.float32]

    def __post_init__(self) -> None:
        _check_columns(
            "ReadingBatch", {"t": self.t, "tag": self.tag, "reader": self.reader, "rssi": self.rssi}
        )

    @classmethod
    def from_arrays(
        cls, t: npt.ArrayLike, tag: npt.ArrayLike, reader: npt.ArrayLike, rssi: npt.ArrayLike
    ) -> ReadingBatch:
        """A batch from any array-likes, converted to the canonical dtypes."""
        return cls(
            np.ascontiguousarray(t, dtype=np.float64),
            np.ascontiguousarray(tag, dtype=np.int32),
            np.ascontiguousarray(reader, dtype=np.int32),
            np.ascontiguousarray(rssi, dtype=np.float32),
        )

    @classmethod
    def empty(cls) -> ReadingBatch:
        """A batch with no readings."""
        return cls.from_arrays([], [], [], [])

    def __len__(self) -> int:
        return len(self.t)

    def take(self, index: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> ReadingBatch:
        """The rows selected by a boolean mask or an index array."""
        return _rows_of(self, index)


@dataclass(frozen=True, slots=True)
class PositionBatch:
    """Fixes: t (s), tag (int32), level (int32 index into the floorplan's levels), x, y (m)
    and uncertainty (m, the radius within which the true position lies with about 68%)."""

    t: npt.NDArray[np.float64]
    tag: npt.NDArray[np.int32]
    level: npt.NDArray[np.int32]
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    uncertainty: npt.NDArray[np.float64]

    def __post_init__(self) -> None:
        _check_columns(
            "PositionBatch",
            {
                "t": self.t,
                "tag": self.tag,
                "level": self.level,
                "x": self.x,
                "y": self.y,
                "uncertainty": self.uncertainty,
            },
        )

    @classmethod
    def from_arrays(
        cls,
        t: npt.ArrayLike,
        tag: npt.ArrayLike,
        level: npt.ArrayLike,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        uncertainty: npt.ArrayLike,
    ) -> PositionBatch:
        """A batch from any array-likes, converted to the canonical dtypes."""
        return cls(
            np.ascontiguousarray(t, dtype=np.float64),
            np.ascontiguousarray(tag, dtype=np.int32),
            np.ascontiguousarray(level, dtype=np.int32),
            np.ascontiguousarray(x, dtype=np.float64),
            np.ascontiguousarray(y, dtype=np.float64),
            np.ascontiguousarray(uncertainty, dtype=np.float64),
        )

    @classmethod
    def empty(cls) -> PositionBatch:
        """A batch with no fixes."""
        return cls.from_arrays([], [], [], [], [], [])

    def __len__(self) -> int:
        return len(self.t)

    def take(self, index: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> PositionBatch:
        """The rows selected by a boolean mask or an index array."""
        return _rows_of(self, index)


BatchT = TypeVar("BatchT", ReadingBatch, PositionBatch)

_COLUMNS = {kind: tuple(f.name for f in fields(kind)) for kind in (ReadingBatch, PositionBatch)}


def _rows_of(batch: BatchT, index: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> BatchT:
    """Some rows of a batch. Its columns were checked when it was made, and rows of
    equal-length 1-d columns are equal-length 1-d columns, so the checks are not run
    again: `take` is called many times per tick at live sizes."""
    kind = type(batch)
    if np.ndim(index) != 1:  # not a row selection: build it checked (and refused)
        return kind(**{name: getattr(batch, name)[index] for name in _COLUMNS[kind]})
    out = object.__new__(kind)
    for name in _COLUMNS[kind]:
        object.__setattr__(out, name, getattr(batch, name)[index])
    return out


def concat_batches(parts: Sequence[BatchT]) -> BatchT:
    """The rows of several batches of one kind, in order (one batch is returned as is)."""
    if len(parts) == 1:
        return parts[0]
    kind = type(parts[0])
    columns = {f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(kind)}
    return kind(**columns)
