"""CSV files of the positioning commands: readings and truth in, positions out.

readings.csv  header `t,tag,reader,rssi`: t in seconds (float), tag and reader as strings
              (reader ids as in the floorplan), rssi in dBm.
truth.csv     header `t,tag,x,y` or `t,tag,x,y,level`: known positions in local metres.
positions.csv header `t,tag,level,x,y,uncertainty_m`: one row per tag per update time.

A wrong header or an empty file is an `InputError` (exit 2) naming the file and the
expected header. A bad row (wrong field count, a number that does not parse, an unknown
reader) is rejected with its line number; the rest of the file is still used. Parsing
is columnar: split once, convert whole columns with numpy, intern strings with
`np.unique`; only rows that fail a column conversion are looked at one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.batches import PositionBatch, ReadingBatch
from geometry.errors import InputError

READINGS_HEADER = ("t", "tag", "reader", "rssi")
TRUTH_HEADER = ("t", "tag", "x", "y")
TRUTH_HEADER_LEVEL = ("t", "tag", "x", "y", "level")
POSITIONS_HEADER = ("t", "tag", "level", "x", "y", "uncertainty_m")


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One rejected row: its 1-based line number in the file and why."""

    line: int
    message: str


@dataclass(frozen=True, slots=True)
class Readings:
    """A parsed readings file: the batch, the names behind its codes, the source lines."""

    batch: ReadingBatch
    tag_ids: tuple[str, ...]
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


def _read_rows(path: Path, headers: Sequence[tuple[str, ...]]) -> tuple[tuple[str, ...], list[str]]:
    """The header that matched and the body lines (blank lines kept, for line numbers)."""
    text = Path(path).read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    expected = " or ".join(",".join(h) for h in headers)
    if not lines or not lines[0].strip():
        raise InputError(f"{path}: the file is empty; expected the header line {expected!r}")
    got = tuple(f.strip() for f in lines[0].split(","))
    for h in headers:
        if got == h:
            return h, lines[1:]
    raise InputError(f"{path}: line 1: header is {lines[0]!r}; expected {expected!r}")


def _columns(
    path: Path, body: list[str], n_fields: int, problems: list[RowProblem]
) -> tuple[npt.NDArray[np.int64], list[list[str]]]:
    """Line numbers and columns (stripped strings) of the rows with the right field count.

    Fast path: when every line is well formed, one `split` of the whole body gives the
    columns by striding; otherwise rows are checked one by one.
    """
    if body and all(body):
        joined = ",".join(body)
        flat = joined.split(",")
        if len(flat) == n_fields * len(body) and all(
            line.count(",") == n_fields - 1 for line in body
        ):
            cols = [flat[i::n_fields] for i in range(n_fields)]
            if " " in joined or "\t" in joined:
                cols = [[c.strip() for c in col] for col in cols]
            return np.arange(2, len(body) + 2, dtype=np.int64), cols
    lines, rows = _split(path, body, n_fields, problems)
    cols = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(n_fields)]
    return lines, [[c.strip() for c in col] for col in cols]


def _intern(values: list[str]) -> tuple[tuple[str, ...], npt.NDArray[np.int64]]:
    """Sorted distinct strings and each value's index among them (dict, not a sort of all)."""
    first: dict[str, int] = {}
    codes = np.fromiter((first.setdefault(v, len(first)) for v in values), np.int64, len(values))
    names = sorted(first)
    remap = np.empty(len(names), np.int64)
    for rank, name in enumerate(names):
        remap[first[name]] = rank
    return tuple(names), remap[codes] if len(values) else codes


def _split(
    path: Path, body: list[str], n_fields: int, problems: list[RowProblem]
) -> tuple[npt.NDArray[np.int64], list[list[str]]]:
    """Rows with the right number of fields (their line numbers), the others rejected."""
    keep: list[int] = []
    rows: list[list[str]] = []
    for i, line in enumerate(body):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != n_fields:
            problems.append(RowProblem(i + 2, f"{len(fields)} fields, expected {n_fields}"))
            continue
        keep.append(i + 2)
        rows.append(fields)
    return np.array(keep, np.int64), rows


def _floats(
    column: list[str], lines: npt.NDArray[np.int64], name: str, problems: list[RowProblem]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """A column as floats and a mask of the rows that parsed (others get a problem)."""
    try:
        return np.array(column, dtype=np.float64), np.ones(len(column), bool)
    except ValueError:
        pass
    values = np.full(len(column), np.nan)
    ok = np.ones(len(column), bool)
    for i, s in enumerate(column):
        try:
            values[i] = float(s)
        except ValueError:
            ok[i] = False
            problems.append(RowProblem(int(lines[i]), f"{name} {s.strip()!r} is not a number"))
    return values, ok


def read_readings(path: Path, reader_ids: Sequence[str]) -> Readings:
    """Parse readings.csv; readers are coded by their index in `reader_ids`."""
    path = Path(path)
    _, body = _read_rows(path, [READINGS_HEADER])
    problems: list[RowProblem] = []
    lines, cols = _columns(path, body, 4, problems)
    t, ok_t = _floats(cols[0], lines, "t", problems)
    rssi, ok_r = _floats(cols[3], lines, "rssi", problems)
    known = {rid: i for i, rid in enumerate(reader_ids)}
    names, inverse = _intern(cols[2])
    code_of = np.array([known.get(n, -1) for n in names], np.int32)
    reader_code = code_of[inverse] if len(inverse) else np.empty(0, np.int32)
    ok_reader = reader_code >= 0
    if not ok_reader.all():
        listed = ", ".join(reader_ids[:8]) + (", ..." if len(reader_ids) > 8 else "")
        for i in np.flatnonzero(~ok_reader):
            problems.append(
                RowProblem(int(lines[i]), f"unknown reader {cols[2][i]!r} (known: {listed})")
            )
    good = ok_t & ok_r & ok_reader
    good_idx = np.flatnonzero(good)
    tags = cols[1] if good.all() else [cols[1][i] for i in good_idx]
    tag_names, tag_code = _intern(tags)
    batch = ReadingBatch.from_arrays(t[good], tag_code, reader_code[good], rssi[good])
    problems.sort(key=lambda p: p.line)
    return Readings(batch, tag_names, lines[good], tuple(problems))


def read_truth(path: Path, tag_ids: Sequence[str]) -> Truth:
    """Parse truth.csv; tags are coded by `tag_ids` (new tags are appended after them)."""
    path = Path(path)
    header, body = _read_rows(path, [TRUTH_HEADER, TRUTH_HEADER_LEVEL])
    problems: list[RowProblem] = []
    lines, cols = _columns(path, body, len(header), problems)
    t, ok_t = _floats(cols[0], lines, "t", problems)
    x, ok_x = _floats(cols[2], lines, "x", problems)
    y, ok_y = _floats(cols[3], lines, "y", problems)
    good = ok_t & ok_x & ok_y & np.isfinite(t) & np.isfinite(x) & np.isfinite(y)
    for i in np.flatnonzero(~good & ok_t & ok_x & ok_y):
        problems.append(RowProblem(int(lines[i]), "t, x or y is not finite"))
    names = list(tag_ids)
    index = {n: i for i, n in enumerate(names)}
    tags = cols[1]
    for s in sorted(set(tags) - set(index)):
        index[s] = len(names)
        names.append(s)
    code = np.array([index[s] for s in tags], np.int32)
    level = tuple(cols[4]) if len(header) == 5 else ("",) * len(tags)
    keep = np.flatnonzero(good)
    problems.sort(key=lambda p: p.line)
    return Truth(
        t[keep],
        code[keep],
        x[keep],
        y[keep],
        tuple(level[i] for i in keep),
        tuple(names),
        tuple(problems),
    )


@dataclass(frozen=True, slots=True)
class Positions:
    """A parsed positions file, time-ordered: the batch and the tags behind its codes."""

    batch: PositionBatch
    tag_ids: tuple[str, ...]
    problems: tuple[RowProblem, ...]


def read_positions(path: Path, level_ids: Sequence[str]) -> Positions:
    """Parse positions.csv (as `sts locate` writes it); levels coded by `level_ids` order."""
    path = Path(path)
    _, body = _read_rows(path, [POSITIONS_HEADER])
    problems: list[RowProblem] = []
    lines, cols = _columns(path, body, 6, problems)
    nums = [_floats(cols[i], lines, name, problems) for i, name in ((0, "t"), (3, "x"), (4, "y"))]
    u, ok_u = _floats(cols[5], lines, "uncertainty_m", problems)
    (t, ok_t), (x, ok_x), (y, ok_y) = nums
    parsed = ok_t & ok_x & ok_y & ok_u
    finite = np.isfinite(t) & np.isfinite(x) & np.isfinite(y) & np.isfinite(u) & (u >= 0)
    for i in np.flatnonzero(parsed & ~finite):
        problems.append(RowProblem(int(lines[i]), "t, x, y must be finite and uncertainty_m >= 0"))
    known = {lv: i for i, lv in enumerate(level_ids)}
    level_names, level_inverse = _intern(cols[2])
    level_of = np.array([known.get(n, -1) for n in level_names], np.int32)
    level = level_of[level_inverse] if len(level_inverse) else np.empty(0, np.int32)
    for i in np.flatnonzero(level < 0):
        problems.append(
            RowProblem(
                int(lines[i]), f"unknown level {cols[2][i]!r} (known: {', '.join(level_ids)})"
            )
        )
    empty_tag = np.array([not s for s in cols[1]], bool)
    for i in np.flatnonzero(empty_tag):
        problems.append(RowProblem(int(lines[i]), "empty tag"))
    keep = np.flatnonzero(parsed & finite & (level >= 0) & ~empty_tag)
    tag_names, tag_code = _intern([cols[1][i] for i in keep])
    batch = PositionBatch.from_arrays(t[keep], tag_code, level[keep], x[keep], y[keep], u[keep])
    problems.sort(key=lambda p: p.line)
    return Positions(batch.take(np.argsort(batch.t, kind="stable")), tag_names, tuple(problems))


def format_positions(
    positions: PositionBatch, tag_ids: Sequence[str], level_ids: Sequence[str]
) -> str:
    """positions.csv text (header included), rows as given, fixed decimals."""
    tag_names = np.array(list(tag_ids) or [""], dtype=object)[positions.tag]
    level_names = np.array(list(level_ids) or [""], dtype=object)[positions.level]
    out = [",".join(POSITIONS_HEADER)]
    out += [
        f"{t:.3f},{tag},{lv},{x:.3f},{y:.3f},{u:.2f}"
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
    return "\n".join(out) + "\n"


def summarise_problems(path: Path | str, problems: Sequence[RowProblem], limit: int = 10) -> str:
    """One message for stderr: how many rows were rejected, the first few with their line."""
    head = f"{path}: rejected {len(problems)} row{'s' if len(problems) != 1 else ''}"
    shown = [f"  line {p.line}: {p.message}" for p in problems[:limit]]
    more = [f"  ... and {len(problems) - limit} more"] if len(problems) > limit else []
    return "\n".join([head + ":", *shown, *more])
