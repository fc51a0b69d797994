"""Stable integer codes for the string ids of a file read in chunks (tags, mostly)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


class TagTable:
    """Codes for string ids in order of first use: a code never changes, the table only
    grows, so the chunks of one file agree on every code."""

    def __init__(self) -> None:
        self._code: dict[str, int] = {}

    def codes(
        self, names: Sequence[str], index: npt.NDArray[np.int32], used: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.int32]:
        """The codes of the rows where `used` (row i holds names[index[i]]); names seen
        for the first time get the next codes, in the order of their first used row, so
        codes do not depend on where blocks end. `names` lists values in order of first
        appearance (a pyarrow dictionary). Python runs per distinct name, not per row."""
        rows = index if used.all() else index[used]
        if used.all():
            # A block's dictionary lists its values in order of first appearance.
            seen: list[int] = np.flatnonzero(np.bincount(rows, minlength=len(names))).tolist()
        else:
            values, first = np.unique(rows, return_index=True)
            seen = values[np.argsort(first, kind="stable")].tolist()
        table = np.full(len(names), -1, np.int32)
        for k in seen:
            table[k] = self._code.setdefault(names[k], len(self._code))
        return table[rows]

    def ids(self) -> tuple[str, ...]:
        """The ids in code order."""
        return tuple(self._code)


def sorted_rank(names: Sequence[str]) -> npt.NDArray[np.int32]:
    """For each name, its index among the names sorted (to recode by sorted order)."""
    rank = np.empty(len(names), np.int32)
    rank[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names))
    return rank
