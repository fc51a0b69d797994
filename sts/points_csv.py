"""points.csv, the input of `sts zones`: a level and a position per row, other columns kept.

Header: names `level` and either `x,y` (local metres, the site frame) or `lon,lat`
(WGS84 degrees); other columns are allowed (quoted as CSV allows) and copied through by
the command, which keeps each row's text as read. Blank lines are skipped.

A bad row (the wrong number of fields, an unknown level, a value that is not a finite
number, a lon/lat off the globe) is a `RowProblem` naming its line and column; `sts
zones` refuses the file when there is any. Reading is by blocks (`sts.csv_chunks`).
"""

from __future__ import annotations

import csv
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from geometry.errors import InputError
from sts.csv_chunks import (
    BLOCK_BYTES,
    TEXT,
    Layout,
    ParsedBlock,
    ProblemTally,
    RowProblem,
    dictionary_values,
    float_column,
    iter_parsed,
    line_texts,
    open_csv,
    refuse_cut_short,
)

_EXPECTED = "'level,x,y' (local metres) or 'level,lon,lat' (WGS84)"


@dataclass(frozen=True, slots=True)
class PointsChunk:
    """A block of a points file: the rows that parsed, their text, the rows rejected."""

    level: npt.NDArray[np.int32]  # index into the level ids given
    a: npt.NDArray[np.float64]  # x or lon
    b: npt.NDArray[np.float64]  # y or lat
    line: npt.NDArray[np.int64]  # 1-based line of each row
    text: pa.StringArray  # each row as read, without its line end
    problems: tuple[RowProblem, ...]


@dataclass(frozen=True, slots=True)
class PointsFile:
    """An opened points file: its header (as read), the coordinates it uses, its chunks."""

    header: str
    wgs84: bool
    chunks: Generator[PointsChunk, None, None]


def open_points(
    path: Path, level_ids: Sequence[str], *, block_bytes: int = BLOCK_BYTES
) -> PointsFile:
    """Check the header now; the rows come chunk by chunk, levels coded by `level_ids`."""
    path = Path(path)
    handle, header, offset = open_csv(path)
    try:
        names, wgs84 = _columns(path, header)
    except InputError:
        handle.close()
        raise
    ka, kb = ("lon", "lat") if wgs84 else ("x", "y")
    types = {"level": TEXT, ka: pa.float64(), kb: pa.float64()}
    layout = Layout(path, names, types, _not_a_finite_number)
    blocks = iter_parsed(layout, handle, offset, block_bytes)
    return PointsFile(header, wgs84, _chunks(blocks, path, level_ids, (ka, kb)))


def read_points(path: Path, level_ids: Sequence[str]) -> list[PointsChunk]:
    """Every chunk of a points file, or one InputError naming its bad rows."""
    points = open_points(path, level_ids)
    chunks = list(points.chunks)
    tally = ProblemTally()
    for chunk in chunks:
        tally.add(chunk.problems)
    refuse_bad_rows(Path(path), tally)
    return chunks


def refuse_bad_rows(path: Path, tally: ProblemTally) -> None:
    """One InputError listing the first bad rows (by line) and their count, if any."""
    if not tally.total:
        return
    rows = "\n".join(f"  line {p.line}: {p.message}" for p in tally.shown)
    more = (
        f"\n  ... and {tally.total - len(tally.shown)} more"
        if tally.total > len(tally.shown)
        else ""
    )
    raise InputError(
        f"{path}: {tally.total} bad value(s); nothing was written:\n{rows}{more}\n"
        "Fix: one value per header column, separated by commas, as the messages say"
    )


def _not_a_finite_number(name: str, value: str) -> str:
    return (
        f"column {name!r}: {value!r} is not a finite number "
        f"(fix: write {name} as a decimal number, e.g. 12.5)"
    )


def _columns(path: Path, header: str) -> tuple[tuple[str, ...], bool]:
    """Column names and whether the coordinates are lon/lat."""
    names = [h.strip() for h in next(csv.reader([header]))] if header.strip() else []
    if not names:
        raise InputError(f"{path}: the file is empty. Fix: start it with the header {_EXPECTED}")
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
            f"{path}: line 1: header is {header.strip()!r}. Fix: use the header {_EXPECTED} "
            "(other columns may follow; give one coordinate pair, not both)"
        )
    return tuple(names), has_ll


def _chunks(
    blocks: Iterator[ParsedBlock],
    path: Path,
    level_ids: Sequence[str],
    coordinates: tuple[str, str],
) -> Generator[PointsChunk, None, None]:
    known = {lv: i for i, lv in enumerate(level_ids)}
    listed = ", ".join(level_ids)
    ka, kb = coordinates
    for parsed in blocks:
        table, line = parsed.table, parsed.line
        problems = list(parsed.problems)
        names, index = dictionary_values(table.column("level"))
        level = np.array([known.get(n, -1) for n in names], np.int32)[index]
        problems += [
            RowProblem(
                int(line[i]),
                f"column 'level': unknown level {names[index[i]]!r} "
                f"(fix: use a level id of the plan: {listed})",
            )
            for i in np.flatnonzero(level < 0)
        ]
        a = float_column(table, ka).astype(np.float64, copy=False)
        b = float_column(table, kb).astype(np.float64, copy=False)
        for name, values in ((ka, a), (kb, b)):
            problems += [
                RowProblem(int(line[i]), _not_a_finite_number(name, str(values[i])))
                for i in np.flatnonzero(~np.isfinite(values))
            ]
        if ka == "lon":
            problems += [
                RowProblem(
                    int(line[i]),
                    f"columns 'lon','lat': {a[i]}, {b[i]} is not a WGS84 position "
                    "(fix: degrees, lon in [-180, 180] first, lat in [-90, 90])",
                )
                for i in np.flatnonzero((np.abs(a) > 180) | (np.abs(b) > 90))
            ]
        refuse_cut_short(path, parsed.block, problems)
        problems.sort(key=lambda p: p.line)
        text = line_texts(parsed.block, line)
        yield PointsChunk(level, a, b, line, text, tuple(problems))
