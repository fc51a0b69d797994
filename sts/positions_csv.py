"""positions.csv: the fixes `sts locate` writes and `sts track --positions` reads.

Header `t,tag,level,x,y,uncertainty_m`: t in seconds, tag a string, level a level id of
the floorplan, x, y in local metres, uncertainty_m the radius (m) holding the true
position with about 68%. Written with fixed decimals (t, x, y to the millimetre,
uncertainty to the centimetre), so the same fixes give the same bytes.

Reading is by blocks (`sts.csv_chunks`): `iter_positions` yields the rows in file order
chunk by chunk; `read_positions` is the whole file at once, time-ordered. A bad row (a
number that does not parse or is not finite, a negative uncertainty, an unknown level,
an empty tag, the wrong field count) is rejected with its line; the rest is kept.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from engine.batches import PositionBatch
from sts.csv_chunks import (
    BLOCK_BYTES,
    TEXT,
    ParsedBlock,
    RowProblem,
    dictionary_values,
    float_column,
    known_codes,
    open_parsed,
    refuse_cut_short,
)
from sts.tag_table import TagTable, sorted_rank

POSITIONS_HEADER = ("t", "tag", "level", "x", "y", "uncertainty_m")

_TYPES = {
    "t": pa.float64(),
    "tag": TEXT,
    "level": TEXT,
    "x": pa.float64(),
    "y": pa.float64(),
    "uncertainty_m": pa.float64(),
}


@dataclass(frozen=True, slots=True)
class PositionsChunk:
    """A block of a positions file: the rows that parsed, in file order."""

    batch: PositionBatch  # tag codes index `tag_ids`; levels index the level ids
    tag_ids: tuple[str, ...]  # the file's tags so far: codes are stable, the table only grows
    line: npt.NDArray[np.int64]  # 1-based line of each row
    problems: tuple[RowProblem, ...]


@dataclass(frozen=True, slots=True)
class Positions:
    """A parsed positions file, time-ordered: the batch and the tags behind its codes."""

    batch: PositionBatch
    tag_ids: tuple[str, ...]  # sorted: codes do not depend on row order
    problems: tuple[RowProblem, ...]


def iter_positions(
    path: Path, level_ids: Sequence[str], *, block_bytes: int = BLOCK_BYTES
) -> Iterator[PositionsChunk]:
    """positions.csv chunk by chunk; levels coded by their index in `level_ids`.

    The header is checked at the call (a bad one raises before any chunk is read).
    """
    blocks = open_parsed(path, POSITIONS_HEADER, _TYPES, block_bytes)
    return _position_chunks(blocks, Path(path), level_ids)


def _position_chunks(
    blocks: Iterator[ParsedBlock], path: Path, level_ids: Sequence[str]
) -> Iterator[PositionsChunk]:
    known = {lv: i for i, lv in enumerate(level_ids)}
    listed = ", ".join(level_ids)
    tags = TagTable()
    for parsed in blocks:
        table, line = parsed.table, parsed.line
        problems = list(parsed.problems)
        t, x, y, u = (float_column(table, k) for k in ("t", "x", "y", "uncertainty_m"))
        finite = np.isfinite(t) & np.isfinite(x) & np.isfinite(y) & np.isfinite(u) & (u >= 0)
        problems += [
            RowProblem(int(line[i]), "t, x, y must be finite and uncertainty_m >= 0")
            for i in np.flatnonzero(~finite)
        ]
        level, unknown = known_codes(
            table, "level", known, line, lambda n: f"unknown level {n!r} (known: {listed})"
        )
        problems += unknown
        tag_names, tag_index = dictionary_values(table.column("tag"))
        empty = np.array([not n for n in tag_names], bool)[tag_index]
        problems += [RowProblem(int(line[i]), "empty tag") for i in np.flatnonzero(empty)]
        refuse_cut_short(path, parsed.block, problems)
        keep = finite & (level >= 0) & ~empty
        tag = tags.codes(tag_names, tag_index, keep)
        batch = PositionBatch.from_arrays(t[keep], tag, level[keep], x[keep], y[keep], u[keep])
        problems.sort(key=lambda p: p.line)
        yield PositionsChunk(batch, tags.ids(), line[keep], tuple(problems))


def read_positions(path: Path, level_ids: Sequence[str]) -> Positions:
    """The whole of positions.csv at once, time-ordered (stable); levels coded by
    `level_ids` order."""
    chunks = list(iter_positions(path, level_ids))
    tag_ids = chunks[-1].tag_ids if chunks else ()
    parts = [c.batch for c in chunks] or [PositionBatch.empty()]
    batch = PositionBatch.from_arrays(
        np.concatenate([b.t for b in parts]),
        sorted_rank(tag_ids)[np.concatenate([b.tag for b in parts])],
        np.concatenate([b.level for b in parts]),
        np.concatenate([b.x for b in parts]),
        np.concatenate([b.y for b in parts]),
        np.concatenate([b.uncertainty for b in parts]),
    )
    problems = tuple(p for c in chunks for p in c.problems)
    ordered = batch.take(np.argsort(batch.t, kind="stable"))
    return Positions(ordered, tuple(sorted(tag_ids)), problems)


def format_position_rows(
    positions: PositionBatch, tag_ids: Sequence[str], level_ids: Sequence[str]
) -> str:
    """positions.csv rows (no header), in the order given, fixed decimals."""
    if not len(positions):
        return ""
    tag_names = np.array(list(tag_ids) or [""], dtype=object)[positions.tag]
    level_names = np.array(list(level_ids) or [""], dtype=object)[positions.level]
    rows = [
        f"{t:.3f},{tag},{lv},{x:.3f},{y:.3f},{u:.2f}\n"
        for t, tag, lv, x, y, u in zip(
            positions.t.tolist(),
            tag_names.tolist(),
            level_names.tolist(),
            positions.x.tolist(),
            positions.y.tolist(),
            positions.uncertainty.tolist(),
            strict=True,
        )
    ]
    return "".join(rows)


def format_positions(
    positions: PositionBatch, tag_ids: Sequence[str], level_ids: Sequence[str]
) -> str:
    """positions.csv text (header included), rows as given, fixed decimals."""
    return ",".join(POSITIONS_HEADER) + "\n" + format_position_rows(positions, tag_ids, level_ids)
