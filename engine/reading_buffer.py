"""The Locator's buffer of recent readings: appended at the end, trimmed at the front.

A live engine appends a tenth of a second of readings ten times a second and keeps the
last two seconds: copying the whole buffer on every call would cost more than the call's
own work. The columns live in arrays with room to grow; appending copies only the new
rows, trimming moves a start offset, and the rows are moved to the front only when the
dead space passes half the capacity (amortised, a handful of copies per row).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

from engine.batches import ReadingBatch

# rssi kept in float64: a float32 column converts exactly, a float64 one keeps its values.


class ReadingBuffer:
    """Readings in arrival order; `view()` gives them as a ReadingBatch without a copy."""

    def __init__(self) -> None:
        self._t = np.empty(0, np.float64)
        self._tag = np.empty(0, np.int32)
        self._reader = np.empty(0, np.int32)
        # float64: a float32 column converts exactly, a float64 one keeps its values.
        self._rssi = np.empty(0, np.float64)
        self._start = 0
        self._end = 0

    def __len__(self) -> int:
        return self._end - self._start

    @property
    def t(self) -> npt.NDArray[np.float64]:
        """The buffered rows' times (a view)."""
        return self._t[self._start : self._end]

    @property
    def tag(self) -> npt.NDArray[np.int32]:
        """The buffered rows' tag codes (a view)."""
        return self._tag[self._start : self._end]

    def view(self) -> ReadingBatch:
        """The buffered rows (views: valid until the next append, trim or keep)."""
        a, b = self._start, self._end
        return ReadingBatch(self._t[a:b], self._tag[a:b], self._reader[a:b], self._rssi[a:b])  # type: ignore[arg-type]

    def append(self, batch: ReadingBatch) -> None:
        """Add rows at the end."""
        n = len(batch)
        if n == 0:
            return
        if self._end + n > len(self._t):
            self._make_room(n)
        a, b = self._end, self._end + n
        self._t[a:b] = batch.t
        self._tag[a:b] = batch.tag
        self._reader[a:b] = batch.reader
        self._rssi[a:b] = batch.rssi
        self._end = b

    def drop_first(self, count: int) -> None:
        """Forget the first `count` rows."""
        self._start = min(self._start + max(count, 0), self._end)
        if self._start == self._end:
            self._start = self._end = 0

    def keep(self, mask: npt.NDArray[np.bool_]) -> None:
        """Keep only the rows where `mask` is true (in order)."""
        kept = self.view().take(mask)
        self._start = self._end = 0
        self.append(kept)

    def _make_room(self, n: int) -> None:
        """Move the rows to the front, in larger arrays if they would not fit."""
        size = len(self)
        capacity = len(self._t)
        if size + n > capacity // 2:
            capacity = max(2 * (size + n), 1024)
        a, b = self._start, self._end
        self._t = _moved(self._t, a, b, capacity)
        self._tag = _moved(self._tag, a, b, capacity)
        self._reader = _moved(self._reader, a, b, capacity)
        self._rssi = _moved(self._rssi, a, b, capacity)
        self._start, self._end = 0, size


_Column = TypeVar("_Column", bound=np.generic)


def _moved(column: npt.NDArray[_Column], a: int, b: int, capacity: int) -> npt.NDArray[_Column]:
    """column[a:b] at the front of an array of `capacity` rows (the same one if it fits)."""
    out = column if capacity == len(column) else np.empty(capacity, column.dtype)
    out[: b - a] = column[a:b]
    return out
