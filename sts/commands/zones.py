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
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from geometry.errors import InputError
from sts.csv_chunks import ProblemTally
from sts.output_files import replace_on_success
from sts.points_csv import open_points, refuse_bad_rows
from sts.zone_lookup import ZoneLookup


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
