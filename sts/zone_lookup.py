"""Zone sets of points in bulk: what `sts zones` writes in its `zones` column.

Points come in chunks (`sts.points_csv.PointsChunk`, local metres or WGS84); the
answer is each point's zone ids, sorted and joined by ';', formatted once per
distinct set of zones (few sets, many points).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from geometry.frame import LocalFrame
from geometry.model import Floorplan
from geometry.zone_index import ZoneIndex
from sts.points_csv import PointsChunk


def _quoted(s: str) -> str:
    """A CSV field (quoted only when it must be)."""
    if any(c in s for c in ',"\n\r'):
        return '"' + s.replace('"', '""') + '"'
    return s


class ZoneLookup:
    """The zone index of a plan and the mapping from the plan's levels to its codes."""

    def __init__(self, fp: Floorplan) -> None:
        self.index = ZoneIndex.from_floorplan(fp)
        present = set(self.index.level_ids)
        # A level without zones has no code in the index: its points hold none.
        self.level_code = np.array(
            [self.index.level_code(lv.id) if lv.id in present else -1 for lv in fp.levels],
            dtype=np.int32,
        )
        self.frame = None if fp.site.origin is None else LocalFrame(fp.site.origin)

    def zones_column(self, chunk: PointsChunk, wgs84: bool) -> pa.StringArray:
        """The `zones` value of every point: ids sorted and joined by ';' ('' for none)."""
        n = len(chunk.level)
        if n == 0:
            return pa.array([], pa.string())
        if wgs84:
            assert self.frame is not None
            x, y = self.frame.to_local(chunk.a, chunk.b)
        else:
            x, y = chunk.a, chunk.b
        level = self.level_code[chunk.level]
        texts, inverse = self._zone_sets(level, x, y)
        return pa.array(texts, pa.string()).take(pa.array(inverse))

    def _zone_sets(
        self, level: npt.NDArray[np.int32], x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
    ) -> tuple[list[str], npt.NDArray[np.intp]]:
        """The distinct zone sets as text and each point's index among them."""
        n = len(level)
        hits = self.index.query(level, x, y, distances=False)  # membership only: the fast kernel
        counts = hits.counts()
        if len(hits.zone) == 0:
            return [""], np.zeros(n, np.intp)
        # Each point's hits are ascending zone numbers, so a row of them is a canonical key
        # of its set of zones. Format each distinct set once (few sets, many points).
        nums = hits.zone.astype(np.int64) + 1  # 0 pads the rows
        pos = np.arange(len(nums), dtype=np.int64) - np.repeat(hits.offsets[:-1], counts)
        table = np.zeros((n, int(counts.max())), dtype=np.int64)
        table[hits.point(), pos] = nums
        base = int(nums.max()) + 1
        if table.shape[1] * math.log2(base) < 62:
            key = table @ (base ** np.arange(table.shape[1], dtype=np.int64))
            _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            sets = table[first]
        else:  # too many zones per point to pack into an int64: compare whole rows
            sets, inverse = np.unique(table, axis=0, return_inverse=True)
        zone_id = self.index.zone_id
        texts = [_quoted(";".join(sorted(zone_id(int(k) - 1) for k in row if k))) for row in sets]
        return texts, inverse.reshape(-1)
