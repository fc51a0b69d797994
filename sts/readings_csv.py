"""readings.csv and truth.csv: the RSSI a survey or a site recorded, and known positions.

readings.csv  header `t,tag,reader,rssi`: t in seconds (float), tag and reader as strings
              (reader ids as in the floorplan), rssi in dBm.
truth.csv     header `t,tag,x,y` or `t,tag,x,y,level`: known positions in local metres.

A wrong header or an empty file is an `InputError` (exit 2) naming the file and the
expected header. A bad row (wrong field count, a number that does not parse, an unknown
reader) is rejected with its line number; the rest of the file is still used. Reading
is by blocks (`sts.csv_chunks`): `iter_readings` yields the file chunk by chunk in
bounded memory; `read_readings` is the whole file at once, for commands that need it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from engine.batches import ReadingBatch
from sts.csv_chunks import (
    BLOCK_BYTES,
    TEXT,
    Layout,
    ParsedBlock,
    RowProblem,
    dictionary_values,
    float_column,
    iter_parsed,
    known_codes,
    open_parsed,
    open_with_header,
    refuse_cut_short,
    summarise_problems,
)
from sts.tag_table import TagTable, sorted_rank

__all__ = [
    "READINGS_HEADER",
    "TRUTH_HEADER",
    "TRUTH_HEADER_LEVEL",
    "Readings",
    "ReadingsChunk",
    "RowProblem",
    "Truth",
    "iter_readings",
    "read_readings",
    "read_truth",
    "summarise_problems",
]

READINGS_HEADER = ("t", "tag", "reader", "rssi")
TRUTH_HEADER = ("t", "tag", "x", "y")
TRUTH_HEADER_LEVEL = ("t", "tag", "x", "y", "level")

_READINGS_TYPES = {"t": pa.float64(), "tag": TEXT, "reader": TEXT, "rssi": pa.float32()}


@dataclass(frozen=True, slots=True)
class ReadingsChunk:
    """A block of a readings file: the rows that parsed, in file order."""

    batch: ReadingBatch  # tag codes index `tag_ids`; reader codes index the reader ids
    tag_ids: tuple[str, ...]  # the file's tags so far: codes are stable, the table only grows
    line: npt.NDArray[np.int64]  # 1-based line of each row
    problems: tuple[RowProblem, ...]


@dataclass(frozen=True, slots=True)
class Readings:
    """A parsed readings file: the batch, the names behind its codes, the source lines."""

    batch: ReadingBatch
    tag_ids: tuple[str, ...]  # sorted: codes do not depend on row order
    line: npt.NDArray[np.int64]  # 1-based line number of each batch row
    problems: tuple[RowProblem, ...]


@dataclass(frozen=True, slots=True)
class Truth:
    """A parsed truth file, tags as codes into `tag_ids`; `level` is "" where not given."""

    t: npt.NDArray[np.float64]
    tag: npt.NDArray[np.int32]
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    level: tuple[str, ...]
    tag_ids: tuple[str, ...]
    problems: tuple[RowProblem, ...]


def iter_readings(
    path: Path, reader_ids: Sequence[str], *, block_bytes: int = BLOCK_BYTES
) -> Iterator[ReadingsChunk]:
    """readings.csv chunk by chunk; readers coded by their index in `reader_ids`.

    The header is checked at the call (a bad one raises before any chunk is read).
    """
    blocks = open_parsed(path, READINGS_HEADER, _READINGS_TYPES, block_bytes)
    return _readings_chunks(blocks, Path(path), reader_ids)


def _readings_chunks(
    blocks: Iterator[ParsedBlock], path: Path, reader_ids: Sequence[str]
) -> Iterator[ReadingsChunk]:
    known = {rid: i for i, rid in enumerate(reader_ids)}
    listed = ", ".join(reader_ids[:8]) + (", ..." if len(reader_ids) > 8 else "")
    tags = TagTable()
    for parsed in blocks:
        table = parsed.table
        reader, unknown = known_codes(
            table, "reader", known, parsed.line, lambda n: f"unknown reader {n!r} (known: {listed})"
        )
        ok = reader >= 0
        problems = [*parsed.problems, *unknown]
        refuse_cut_short(path, parsed.block, problems)
        tag_names, tag_index = dictionary_values(table.column("tag"))
        tag = tags.codes(tag_names, tag_index, ok)
        t, rssi, line = float_column(table, "t"), float_column(table, "rssi"), parsed.line
        if not ok.all():
            t, reader, rssi, line = t[ok], reader[ok], rssi[ok], line[ok]
        batch = ReadingBatch.from_arrays(t, tag, reader, rssi)
        problems.sort(key=lambda p: p.line)
        yield ReadingsChunk(batch, tags.ids(), line, tuple(problems))


def read_readings(path: Path, reader_ids: Sequence[str]) -> Readings:
    """The whole of readings.csv at once; readers coded by their index in `reader_ids`."""
    chunks = list(iter_readings(path, reader_ids))
    tag_ids = chunks[-1].tag_ids if chunks else ()
    rank = sorted_rank(tag_ids)
    batch = ReadingBatch.from_arrays(
        _concat([c.batch.t for c in chunks], np.float64),
        rank[_concat([c.batch.tag for c in chunks], np.int32)],
        _concat([c.batch.reader for c in chunks], np.int32),
        _concat([c.batch.rssi for c in chunks], np.float32),
    )
    line = _concat([c.line for c in chunks], np.int64)
    problems = tuple(p for c in chunks for p in c.problems)
    return Readings(batch, tuple(sorted(tag_ids)), line, problems)


def _concat(parts: list[npt.NDArray], dtype: type) -> npt.NDArray:
    """Arrays end to end (an empty array of `dtype` for none)."""
    return np.concatenate(parts) if parts else np.empty(0, dtype)


def read_truth(path: Path, tag_ids: Sequence[str]) -> Truth:
    """Parse truth.csv; tags are coded by `tag_ids` (new tags are appended after them)."""
    path = Path(path)
    handle, header, offset = open_with_header(path, [TRUTH_HEADER, TRUTH_HEADER_LEVEL])
    types = {"t": pa.float64(), "tag": TEXT, "x": pa.float64(), "y": pa.float64()}
    if len(header) == 5:
        types["level"] = TEXT
    parts: list[tuple[ParsedBlock, list[str], npt.NDArray[np.int32]]] = []
    problems: list[RowProblem] = []
    for parsed in iter_parsed(Layout(path, header, types), handle, offset):
        names, index = dictionary_values(parsed.table.column("tag"))
        parts.append((parsed, names, index))
        problems += parsed.problems
        refuse_cut_short(path, parsed.block, problems)
    code = {n: i for i, n in enumerate(tag_ids)}
    for name in sorted({n for _, names, _ in parts for n in names} - set(code)):
        code[name] = len(code)
    t, x, y = (_concat([float_column(p.table, k) for p, _, _ in parts], np.float64) for k in "txy")
    line = _concat([p.line for p, _, _ in parts], np.int64)
    tag = _concat(
        [np.array([code[n] for n in names], np.int32)[i] for _, names, i in parts], np.int32
    )
    level = _truth_levels([p for p, _, _ in parts], len(header) == 5)
    good = np.isfinite(t) & np.isfinite(x) & np.isfinite(y)
    problems += [RowProblem(int(line[i]), "t, x or y is not finite") for i in np.flatnonzero(~good)]
    problems.sort(key=lambda p: p.line)
    keep = np.flatnonzero(good)
    kept_level = tuple(level[i] for i in keep)
    return Truth(t[keep], tag[keep], x[keep], y[keep], kept_level, tuple(code), tuple(problems))


def _truth_levels(parts: list[ParsedBlock], given: bool) -> list[str]:
    """The level of every truth row ("" when the file has no level column)."""
    levels: list[str] = []
    for parsed in parts:
        if not given:
            levels += [""] * parsed.table.num_rows
            continue
        names, index = dictionary_values(parsed.table.column("level"))
        levels += np.array(names or [""], dtype=object)[index].tolist()
    return levels
