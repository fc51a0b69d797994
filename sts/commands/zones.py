"""`sts zones`: which zones hold each point of a CSV file (bulk lookup).

Input   a CSV file whose header names `level` and either `x,y` (local metres, the site
        frame) or `lon,lat` (WGS84 degrees; the plan needs a site origin). Other columns
        are allowed and copied through. `level` is a level id of the plan.
Output  the input lines unchanged plus a last column `zones`: the ids of every zone that
        holds the point (edges and vertices count as inside), sorted by zone id and
        joined by `;`, empty when none.

The file is checked whole before anything is written: a wrong header, a row with the
wrong number of fields, an unknown level, or a value that is not a finite number stops
the command (exit 2) with the line, the column and the fix (the first 10 such rows and
the count). Blank lines are skipped. Parsing is columnar (one split of the whole body,
numpy conversions per column); the lookup is one batch query of the zone index.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from geometry.errors import InputError
from geometry.frame import LocalFrame
from geometry.model import Floorplan

#: How many bad rows an error message lists (the count covers them all).
MAX_LISTED = 10


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


@dataclass(frozen=True, slots=True)
class Points:
    """A parsed points file: raw lines (for copying through), levels and coordinates."""

    header: str
    lines: list[str]  # the data lines as read (blank lines dropped)
    line_no: npt.NDArray[np.int64]  # 1-based line number of each data line
    level: list[str]
    a: npt.NDArray[np.float64]  # x or lon
    b: npt.NDArray[np.float64]  # y or lat
    wgs84: bool


@dataclass(slots=True)
class _Rejections:
    """Bad rows found while reading: every check runs, then one error lists them all."""

    path: Path
    listed: list[tuple[int, str]] = field(default_factory=list)
    total: int = 0

    def add(self, lines: npt.NDArray[np.int64], bad: npt.NDArray[np.int64], say: Any) -> None:
        """Record rows `bad` (indexes into `lines`); `say(i)` is the message of row i."""
        self.total += len(bad)
        self.listed += [(int(lines[i]), str(say(i))) for i in bad[:MAX_LISTED]]

    def check(self) -> None:
        """Raise one InputError naming the first bad rows (by line) and the count."""
        if not self.total:
            return
        shown = sorted(self.listed)[:MAX_LISTED]
        more = f"\n  ... and {self.total - len(shown)} more" if self.total > len(shown) else ""
        rows = "\n".join(f"  line {line}, {msg}" for line, msg in shown)
        raise InputError(
            f"{self.path}: {self.total} bad value(s); nothing was written:\n{rows}{more}"
        )


def _header(path: Path, first: str) -> tuple[list[str], bool]:
    """Column names and whether the coordinates are lon/lat."""
    names = [h.strip() for h in next(csv.reader([first]))] if first.strip() else []
    expected = "'level,x,y' (local metres) or 'level,lon,lat' (WGS84)"
    if not names:
        raise InputError(f"{path}: the file is empty. Fix: start it with the header {expected}")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"{path}: line 1: column(s) {', '.join(dup)} appear twice")
    if "zones" in names:
        raise InputError(
            f"{path}: line 1: the input already has a `zones` column. "
            "Fix: rename or drop it (the output adds `zones`)"
        )
    has_xy = "x" in names and "y" in names
    has_ll = "lon" in names and "lat" in names
    if "level" not in names or has_xy == has_ll:
        raise InputError(
            f"{path}: line 1: header is {first.strip()!r}. Fix: use the header {expected} "
            "(other columns may follow; give one coordinate pair, not both)"
        )
    return names, has_ll


def _commas_per_line_are(joined: str, n: int) -> bool:
    """Whether every line of `joined` has exactly n commas (counted by numpy, not per line).

    UTF-8 never uses the bytes of ',' or newline inside a multi-byte character.
    """
    raw = np.frombuffer(joined.encode("utf-8"), np.uint8)
    commas = np.flatnonzero(raw == ord(","))
    ends = np.append(np.flatnonzero(raw == ord("\n")), len(raw))
    per_line = np.diff(np.searchsorted(commas, ends), prepend=0)
    return bool((per_line == n).all())


def _split(path: Path, body: list[str], lines: npt.NDArray[np.int64], ncol: int) -> list[list[str]]:
    """The columns of the data lines: one split of the whole body (csv module if quoted).

    Rows with the wrong number of fields are an error naming their lines.
    """
    if not body:
        return [[] for _ in range(ncol)]
    joined = "\n".join(body)
    if '"' not in joined:
        flat = joined.replace("\n", ",").split(",")
        if len(flat) == ncol * len(body) and _commas_per_line_are(joined, ncol - 1):
            cols = [flat[k::ncol] for k in range(ncol)]
            if " " in joined or "\t" in joined:
                cols = [[c.strip() for c in col] for col in cols]
            return cols
    rows = list(csv.reader(body))
    counts = np.fromiter((len(r) for r in rows), np.int64, len(rows))
    bad = np.flatnonzero(counts != ncol)
    if len(bad):
        shown = "\n".join(
            f"  line {lines[i]}: {counts[i]} field(s), expected {ncol}" for i in bad[:MAX_LISTED]
        )
        more = f"\n  ... and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
        raise InputError(
            f"{path}: {len(bad)} row(s) with the wrong number of fields; nothing was "
            f"written:\n{shown}{more}\nFix: one value per header column, separated by commas"
        )
    return [[c.strip() for c in col] for col in zip(*rows, strict=True)]


def _numbers(
    col: list[str], name: str, lines: npt.NDArray[np.int64], bad_rows: _Rejections
) -> npt.NDArray[np.float64]:
    """A column as floats; rows that are not finite numbers are recorded in `bad_rows`."""
    try:
        values = np.array(col, dtype=np.float64)
    except ValueError:
        values = np.full(len(col), np.nan)
        for i, s in enumerate(col):  # only on the error path: find which rows fail
            with contextlib.suppress(ValueError):
                values[i] = float(s)
    bad = np.flatnonzero(~np.isfinite(values))
    bad_rows.add(
        lines,
        bad,
        lambda i: (
            f"column {name!r}: {col[i]!r} is not a finite number "
            f"(fix: write {name} as a decimal number, e.g. 12.5)"
        ),
    )
    return values


def read_points(path: Path, level_ids: Sequence[str] | None = None) -> Points:
    """Parse and check a points CSV file; bad rows are one InputError naming line and column.

    With `level_ids`, a level not among them is a bad value too.
    """
    text = Path(path).read_text(encoding="utf-8-sig")
    all_lines = text.splitlines()
    names, wgs84 = _header(path, all_lines[0] if all_lines else "")
    body = all_lines[1:]
    if all(body):
        line_no = np.arange(2, len(body) + 2, dtype=np.int64)
    else:
        keep = [i for i, line in enumerate(body) if line.strip()]
        body = [body[i] for i in keep]
        line_no = np.array(keep, dtype=np.int64) + 2
    cols = _split(path, body, line_no, len(names))
    col = dict(zip(names, cols, strict=True))
    bad_rows = _Rejections(Path(path))
    levels = col["level"]
    if level_ids is not None:
        known = set(level_ids)
        distinct = set(levels)
        if not distinct <= known:
            listed = ", ".join(level_ids)
            bad = np.flatnonzero(np.isin(np.array(levels, dtype=object), list(distinct - known)))
            bad_rows.add(
                line_no,
                bad,
                lambda i: (
                    f"column 'level': unknown level {levels[i]!r} "
                    f"(fix: use a level id of the plan: {listed})"
                ),
            )
    ka, kb = ("lon", "lat") if wgs84 else ("x", "y")
    a = _numbers(col[ka], ka, line_no, bad_rows)
    b = _numbers(col[kb], kb, line_no, bad_rows)
    if wgs84:
        out = np.flatnonzero((np.abs(a) > 180) | (np.abs(b) > 90))
        bad_rows.add(
            line_no,
            out,
            lambda i: (
                f"columns 'lon','lat': {a[i]}, {b[i]} is not a WGS84 position "
                "(fix: degrees, lon in [-180, 180] first, lat in [-90, 90])"
            ),
        )
    bad_rows.check()
    return Points(all_lines[0], body, line_no, levels, a, b, wgs84)


def _quoted(s: str) -> str:
    """A CSV field (quoted only when it must be)."""
    if any(c in s for c in ',"\n\r'):
        return '"' + s.replace('"', '""') + '"'
    return s


def zones_column(fp: Floorplan, points: Points, path: Path) -> list[str]:
    """The `zones` value of every point: zone ids sorted and joined by ';' ('' for none)."""
    from geometry.zone_index import ZoneIndex

    index = ZoneIndex.from_floorplan(fp)
    codes_of = {lv: index.level_code(lv) for lv in index.level_ids}
    for lv in fp.levels:
        codes_of.setdefault(lv.id, -1)  # a level without zones: points there hold none
    distinct = {v: codes_of.get(v, -2) for v in dict.fromkeys(points.level)}
    if any(code == -2 for code in distinct.values()):
        read_points(path, [lv.id for lv in fp.levels])  # raises, naming the lines
    slot = {v: k for k, v in enumerate(distinct)}
    which = np.fromiter((slot[v] for v in points.level), np.int64, len(points.level))
    level = np.array(list(distinct.values()), dtype=np.int32)[which]
    if points.wgs84:
        if fp.site.origin is None:
            raise InputError(
                f"{path}: lon,lat input needs a georeferenced plan, and this plan has no "
                "site origin. Fix: give local x,y (header level,x,y), or add "
                "sts.site.origin [lon, lat] to the floorplan"
            )
        x, y = LocalFrame(fp.site.origin).to_local(points.a, points.b)
    else:
        x, y = points.a, points.b
    n = len(level)
    if n == 0:
        return []
    hits = index.query(level, x, y, distances=False)  # membership only: the fast kernel
    counts = hits.counts()
    if len(hits.zone) == 0:
        return [""] * n
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
    text = [_quoted(";".join(sorted(index.zone_id(int(k) - 1) for k in row if k))) for row in sets]
    picked: list[str] = np.array(text, dtype=object)[inverse.reshape(-1)].tolist()
    return picked


def run(args: argparse.Namespace) -> int:
    """Read the points, look up their zones in one batch, write the CSV."""
    from sts.floorplan_io import load_floorplan

    fp = load_floorplan(args.path).floorplan
    points = read_points(args.inp, [lv.id for lv in fp.levels])
    column = zones_column(fp, points, args.inp)
    buf = io.StringIO()
    buf.write(points.header.rstrip() + ",zones\n")
    if points.lines:
        buf.write("\n".join(map("{},{}".format, points.lines, column)))
        buf.write("\n")
    Path(args.out).write_text(buf.getvalue(), encoding="utf-8")
    inside = len(column) - column.count("")
    print(f"wrote {args.out}: {len(column)} point(s), {inside} in at least one zone")
    return 0
