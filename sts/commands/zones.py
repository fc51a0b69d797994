"""`sts zones`: which zones hold each point of a CSV file (bulk lookup).

Input   a CSV file whose header names `level` and either `x,y` (local metres, the site
        frame) or `lon,lat` (WGS84 degrees; the plan needs a site origin). Other columns
        are allowed and copied through. `level` is a level id of the plan
        (`sts.points_csv`).
Output  the input lines unchanged plus a last column `zones`: the ids of every zone that
        holds the point (edges and vertices count as inside), sorted by zone id and
        joined by `;`, empty when none.

The file is read, looked up and written block by block, in bounded memory. The output
goes to a temporary file that replaces `--out` only at the end: a wrong header, a row
with the wrong number of fields, an unknown level, or a value that is not a finite
number stops the command (exit 2) with the line, the column and the fix (the first 10
such rows and the count), and `--out` is left as it was.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from geometry.errors import InputError
from geometry.frame import LocalFrame
from geometry.model import Floorplan
from geometry.zone_index import ZoneIndex
from sts.csv_chunks import ProblemTally
from sts.output_files import replace_on_success
from sts.points_csv import PointsChunk, open_points, refuse_bad_rows


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `zones` sub-command."""
    p = subparsers.add_parser(
        "zones",
        help="bulk zone lookup: points.csv in, the same rows plus their zones out",
        description=(
            "For each row of a CSV file with columns level,x,y (local metres) or "
            "level,lon,lat (WGS84), write the same row plus `zones`: the ids of the zones "
            "holding the point, sorted, joined by ';'. Formats in docs/cli.md."
        ),
    )
    p.add_argument("path", type=Path, help="floorplan.geojson, its folder, or an IMDF folder/zip")
    p.add_argument("--in", dest="inp", required=True, type=Path, help="points CSV to read")
    p.add_argument("--out", required=True, type=Path, help="CSV to write (input + zones)")
    p.set_defaults(run=run)


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


def run(args: argparse.Namespace) -> int:
    """Read the points block by block, look up their zones, write the CSV as it goes."""
    from sts.floorplan_io import load_floorplan

    fp = load_floorplan(args.path).floorplan
    points = open_points(args.inp, [lv.id for lv in fp.levels])
    if points.wgs84 and fp.site.origin is None:
        points.chunks.close()
        raise InputError(
            f"{args.inp}: lon,lat input needs a georeferenced plan, and this plan has no "
            "site origin. Fix: give local x,y (header level,x,y), or add "
            "sts.site.origin [lon, lat] to the floorplan"
        )
    lookup = ZoneLookup(fp)
    tally = ProblemTally()
    rows = inside = 0
    with replace_on_success(args.out, inputs=(args.inp, args.path)) as out:
        out.write((points.header.rstrip() + ",zones\n").encode())
        for chunk in points.chunks:
            tally.add(chunk.problems)
            if tally.total:  # keep reading, to count every bad row, but write no more
                continue
            zones = lookup.zones_column(chunk, points.wgs84)
            out.write(_joined_lines(chunk.text, zones))
            rows += len(zones)
            inside += len(zones) - pc.sum(pc.equal(zones, "")).as_py()
        refuse_bad_rows(args.inp, tally)
    print(f"wrote {args.out}: {rows} point(s), {inside} in at least one zone")
    return 0


def _joined_lines(text: pa.StringArray, zones: pa.StringArray) -> memoryview:
    """`text,zones` lines, each ended by a newline, as one block of bytes (no row loop)."""
    if len(text) == 0:
        return memoryview(b"")
    joined = pc.binary_join_element_wise(text, pa.scalar(","), zones, pa.scalar("\n"), "")
    offsets = np.frombuffer(joined.buffers()[1], np.int32)
    start, end = offsets[joined.offset], offsets[joined.offset + len(joined)]
    return memoryview(joined.buffers()[2])[start:end]
