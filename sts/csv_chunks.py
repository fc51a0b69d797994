"""The chunked CSV reader every input file format of the commands shares.

A file is read in blocks of whole lines (`block_bytes`, cut at the last newline) and
each block is parsed by pyarrow's CSV reader on one thread into typed columns, so
memory stays bounded by the block size whatever the file size and no Python runs per
row. Each block knows the number of its first line, so every row keeps its exact
1-based line number.

Rules that hold for every format:
- the text is UTF-8, with or without a byte-order mark; another byte is refused
  (`InputError`) with its byte offset, its line and the fix;
- a quoted field holding a line break is refused, naming its line (rows would no
  longer be lines, and every later line number would be wrong); so is a lone CR;
- empty lines and lines of blanks are skipped; their numbers still count;
- a row with the wrong number of fields, or a value that does not convert, is a
  `RowProblem` naming its line and field; the block's other rows are kept. Only a block
  with such a row is parsed a second time (as text) to find which rows they are;
- a last line without a newline that does not parse means the file was cut short
  (a copy interrupted, a writer still writing): refused, so no output looks complete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from io import BufferedReader
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from geometry.errors import InputError

#: Default block size: large enough that pyarrow's per-call cost vanishes, small enough
#: that a block and its columns stay in cache and the peak memory low (benchmarks/RESULTS.md,
#: "Reading CSV").
BLOCK_BYTES = 4 << 20

#: A string column, dictionary-encoded: ids repeat, so a block holds each once.
TEXT = pa.dictionary(pa.int32(), pa.string())

_BOM = b"\xef\xbb\xbf"
# What a number looks like; a value this rejects is tried alone by pyarrow before it
# is called bad, so the verdict is pyarrow's whichever path a block takes.
_NUMBER = (
    r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[iI][nN][fF]([iI][nN][iI][tT][yY])?|[nN][aA][nN])$"
)
_UTF8_FIX = "Fix: save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 IN > OUT`)"


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One rejected row: its 1-based line number in the file and why."""

    line: int
    message: str


@dataclass(frozen=True, slots=True)
class Layout:
    """What a file holds: every column name in order, and the type of those to convert."""

    path: Path
    names: tuple[str, ...]
    types: Mapping[str, pa.DataType]
    #: The problem of a value that is not a number: (column, value as read) -> message.
    not_a_number: Callable[[str, str], str] = lambda name, value: (
        f"{name} {value!r} is not a number"
    )


@dataclass(frozen=True, slots=True)
class Block:
    """Whole lines of a file: their bytes, the number of the first, the byte offset."""

    data: bytearray
    first_line: int
    offset: int
    newlines: int  # how many newline bytes `data` holds
    last: bool  # the end of the file: its last line may have no newline

    def ends_mid_line(self) -> bool:
        """Whether this is the end of a file whose last line has no newline."""
        return self.last and bool(self.data) and not self.data.endswith(b"\n")

    def lines(self) -> int:
        """How many lines the block holds."""
        return self.newlines + self.ends_mid_line()


@dataclass(frozen=True, slots=True)
class ParsedBlock:
    """The rows of a block that parsed: typed columns, their lines, the rows rejected."""

    block: Block
    table: pa.Table
    line: npt.NDArray[np.int64]
    problems: tuple[RowProblem, ...]


@dataclass(slots=True)
class ProblemTally:
    """The first `limit` problems by line and the count of all: bounded memory."""

    limit: int = 10
    shown: list[RowProblem] = field(default_factory=list)
    total: int = 0

    def add(self, problems: Sequence[RowProblem], count: int | None = None) -> None:
        """Count a block's problems: `count` in all (default: as many as given), of which
        `problems` holds at least the first `limit` by line. Blocks come in file order."""
        self.total += len(problems) if count is None else count
        if len(self.shown) < self.limit and problems:
            self.shown = sorted([*self.shown, *problems], key=lambda p: p.line)[: self.limit]


def open_csv(path: Path) -> tuple[BufferedReader, str, int]:
    """The file opened for reading, its header line (decoded, without BOM or line end)
    and the byte offset of the second line. The caller closes the file."""
    handle = Path(path).open("rb")  # noqa: SIM115 (handed to the caller, who closes it)
    try:
        raw = handle.readline()
        start = len(_BOM) if raw.startswith(_BOM) else 0
        header = _decode(path, raw[start:], start, 1).rstrip("\r\n")
    except BaseException:
        handle.close()
        raise
    return handle, header, len(raw)


def open_with_header(
    path: Path, headers: Sequence[tuple[str, ...]]
) -> tuple[BufferedReader, tuple[str, ...], int]:
    """The file opened after its header, which must be one of `headers` (fields compared
    without blanks); the header that matched; the byte offset of line 2."""
    handle, header, offset = open_csv(path)
    expected = " or ".join(",".join(h) for h in headers)
    got = tuple(f.strip() for f in header.split(","))
    if got in headers:
        return handle, got, offset
    handle.close()
    if not header.strip():
        raise InputError(f"{path}: the file is empty; expected the header line {expected!r}")
    raise InputError(f"{path}: line 1: header is {header!r}; expected {expected!r}")


def summarise_problems(
    path: Path | str, problems: Sequence[RowProblem], limit: int = 10, total: int | None = None
) -> str:
    """One message for stderr: how many rows were rejected (`total`, default all of
    `problems`), the first few with their line."""
    total = len(problems) if total is None else total
    head = f"{path}: rejected {total} row{'s' if total != 1 else ''}"
    shown = [f"  line {p.line}: {p.message}" for p in problems[:limit]]
    more = [f"  ... and {total - len(shown)} more"] if total > len(shown) else []
    return "\n".join([head + ":", *shown, *more])


def iter_blocks(
    handle: BufferedReader, offset: int, block_bytes: int = BLOCK_BYTES
) -> Iterator[Block]:
    """Blocks of whole lines from `handle` (positioned at `offset`, line 2)."""
    if block_bytes < 1:
        raise ValueError(f"block_bytes must be positive, got {block_bytes}")
    carry = b""
    line = 2
    while True:
        data = bytearray(len(carry) + block_bytes)
        data[: len(carry)] = carry
        filled = len(carry) + _read_into(handle, memoryview(data)[len(carry) :])
        del data[filled:]
        last = filled < len(carry) + block_bytes
        cut = len(data) if last else data.rfind(b"\n") + 1
        if cut == 0 and not last:  # a line longer than the block: grow into the next read
            carry = bytes(data)
            continue
        carry = bytes(data[cut:])
        del data[cut:]
        newlines = data.count(b"\n")
        if data:
            yield Block(data, line, offset, newlines, last)
        if last:
            return
        line += newlines
        offset += cut


def _read_into(handle: BufferedReader, view: memoryview) -> int:
    """Fill `view` from the file (pipes return short reads); bytes read, less at the end."""
    total = 0
    while total < len(view):
        n = handle.readinto(view[total:])
        if not n:
            break
        total += n
    return total


def parse_block(layout: Layout, block: Block) -> ParsedBlock:
    """Typed columns of the block's rows; rows that do not parse become problems."""
    _check_text(layout.path, block)
    n_lines = block.lines()
    try:
        table = _read(layout, block, layout.types, None)
    except pa.ArrowInvalid:
        parsed = _parse_slowly(layout, block)
    else:
        if table.num_rows == n_lines:
            line = np.arange(block.first_line, block.first_line + n_lines, dtype=np.int64)
        else:  # pyarrow skipped empty lines
            line = _nonblank_lines(block)
        parsed = ParsedBlock(block, table, line, ())
    return parsed


def refuse_cut_short(path: Path, block: Block, problems: Sequence[RowProblem]) -> None:
    """Refuse a file whose last line, without a newline, is a row with a problem."""
    if not block.ends_mid_line():
        return
    line = block.first_line + block.newlines
    if all(p.line != line for p in problems):
        return
    raise InputError(
        f"{path}: line {line}: the file ends in the middle of a row (no newline, and the "
        "row does not parse): it looks cut short, by an interrupted copy or a writer still "
        "writing; nothing was written. Fix: wait for the file to be complete, or delete the "
        "partial last line"
    )


def _read(
    layout: Layout,
    block: Block,
    types: Mapping[str, pa.DataType],
    on_bad_row: Callable[[pacsv.InvalidRow], str] | None,
) -> pa.Table:
    """One pyarrow parse of the block (one thread, one chunk per column, no nulls)."""
    read = pacsv.ReadOptions(
        column_names=list(layout.names), use_threads=False, block_size=len(block.data) + 1
    )
    parse = pacsv.ParseOptions(invalid_row_handler=on_bad_row)
    convert = pacsv.ConvertOptions(
        column_types=dict(types),
        include_columns=list(types),
        null_values=[],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    return pacsv.read_csv(
        pa.py_buffer(block.data), read_options=read, parse_options=parse, convert_options=convert
    )


def _check_text(path: Path, block: Block) -> None:
    """Refuse bytes that are not UTF-8, a quoted line break, a lone CR."""
    data = block.data
    if not data.isascii():
        _decode(path, data, block.offset, block.first_line)
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        line = block.first_line + data.count(b"\n", 0, _lone_cr(data))
        raise InputError(
            f"{path}: line {line}: a carriage return (CR) alone ends a line; lines must end "
            "with LF or CR LF. Fix: convert the line ends (e.g. `dos2unix`, or save as CSV "
            "with Unix or Windows line ends)"
        )
    if b'"' in data:
        opened = _odd_quote_line(data)
        if opened >= 0:
            raise InputError(
                f"{path}: line {block.first_line + opened}: a quoted field holds a line break "
                "(or a quote is never closed); rows must be single lines, or line numbers "
                "would be wrong. Fix: remove the line break from the field, or close the quote"
            )


def _decode(path: Path, raw: bytes | bytearray, offset: int, first_line: int) -> str:
    """`raw` as UTF-8, or an InputError naming the file offset and line of the bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + raw.count(b"\n", 0, exc.start)
        byte = raw[exc.start]
        raise InputError(
            f"{path}: byte {offset + exc.start} (line {line}): 0x{byte:02x} is not UTF-8 text. "
            f"{_UTF8_FIX}"
        ) from None


def _lone_cr(data: bytearray) -> int:
    """Offset of the first CR not followed by LF."""
    raw = np.frombuffer(data, np.uint8)
    cr = np.flatnonzero(raw == 13)
    alone = cr[(cr + 1 >= len(raw)) | (raw[np.minimum(cr + 1, len(raw) - 1)] != 10)]
    return int(alone[0])


def _line_ends(data: bytearray) -> npt.NDArray[np.int64]:
    """Offset of each line's newline (the block's length for a last line without one)."""
    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
    return np.append(ends, len(data)) if data and not data.endswith(b"\n") else ends


def _odd_quote_line(data: bytearray) -> int:
    """Index in the block of the first line with an odd number of quotes, or -1."""
    quotes = np.flatnonzero(np.frombuffer(data, np.uint8) == ord('"'))
    per_line = np.diff(np.searchsorted(quotes, _line_ends(data)), prepend=0)
    odd = np.flatnonzero(per_line % 2)
    return int(odd[0]) if len(odd) else -1


def _nonblank_lines(block: Block) -> npt.NDArray[np.int64]:
    """Line numbers of the lines pyarrow reads as rows (not empty, CR LF alone is empty)."""
    ends = _line_ends(block.data)
    starts = np.concatenate(([0], ends[:-1] + 1))
    raw = np.frombuffer(block.data, np.uint8)
    length = ends - starts
    cr_only = (length == 1) & (raw[np.minimum(starts, max(len(raw) - 1, 0))] == 13)
    keep = np.flatnonzero((length > 0) & ~cr_only)
    return keep.astype(np.int64) + block.first_line


def _parse_slowly(layout: Layout, block: Block) -> ParsedBlock:
    """A block with bad rows: parsed as text to find them, then converted where it can."""
    bad_rows: list[pacsv.InvalidRow] = []

    def skip(row: pacsv.InvalidRow) -> str:
        bad_rows.append(row)
        return "skip"

    as_text = {name: pa.string() for name in layout.types}
    table = _read(layout, block, as_text, skip)
    line = _nonblank_lines(block)
    problems = [
        RowProblem(
            int(line[row.number - 1]), f"{row.actual_columns} fields, expected {len(layout.names)}"
        )
        for row in bad_rows
        if row.text.strip()
    ]
    line = np.delete(line, [row.number - 1 for row in bad_rows])
    good = np.ones(table.num_rows, bool)
    columns: dict[str, pa.Array] = {}
    for name, kind in layout.types.items():
        text = table.column(name).combine_chunks()
        if pa.types.is_floating(kind):
            values, ok = _numbers(text, kind)
            for i in np.flatnonzero(~ok):
                problems.append(
                    RowProblem(int(line[i]), layout.not_a_number(name, str(text[i]).strip()))
                )
            good &= ok
            columns[name] = values
        else:
            columns[name] = text
    keep = pa.array(good)
    typed = pa.table(
        {name: _typed(columns[name].filter(keep), kind) for name, kind in layout.types.items()}
    )
    return ParsedBlock(block, typed, line[good], tuple(problems))


def _numbers(text: pa.Array, kind: pa.DataType) -> tuple[pa.Array, npt.NDArray[np.bool_]]:
    """A text column as numbers (0 where bad) and the mask of the values that parsed."""
    trimmed = pc.utf8_trim_whitespace(text)
    ok = np.array(pc.match_substring_regex(trimmed, _NUMBER), dtype=bool)
    cast = pc.cast(pc.if_else(pa.array(ok), trimmed, "0"), kind)
    values = np.array(cast, dtype=kind.to_pandas_dtype())
    for i in np.flatnonzero(~ok):
        number = _as_number(trimmed[i].as_py(), kind)
        if number is not None:
            ok[i], values[i] = True, number
    return pa.array(values, kind), ok


def _as_number(value: str, kind: pa.DataType) -> float | None:
    """The number pyarrow's CSV reader reads from this value, or None if it reads none."""
    quoted = '"' + value.replace('"', '""') + '"\n'
    try:
        table = pacsv.read_csv(
            pa.py_buffer(quoted.encode()),
            read_options=pacsv.ReadOptions(column_names=["v"], use_threads=False),
            convert_options=pacsv.ConvertOptions(
                column_types={"v": kind}, null_values=[], quoted_strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid:
        return None
    found: float | None = table.column(0)[0].as_py() if table.num_rows == 1 else None
    return found


def _typed(column: pa.Array, kind: pa.DataType) -> pa.Array:
    """A column in the type the fast path gives it."""
    if pa.types.is_dictionary(kind):
        return pc.dictionary_encode(column)
    return column.cast(kind)


def dictionary_values(column: pa.ChunkedArray) -> tuple[list[str], npt.NDArray[np.int32]]:
    """A dictionary column's distinct values (stripped) and each row's index among them."""
    if column.num_chunks == 0 or len(column) == 0:
        return [], np.empty(0, np.int32)
    array = column.combine_chunks() if column.num_chunks > 1 else column.chunk(0)
    return (
        [s.strip() for s in array.dictionary.to_pylist()],
        array.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False),
    )


def known_codes(
    table: pa.Table,
    name: str,
    known: Mapping[str, int],
    line: npt.NDArray[np.int64],
    complaint: Callable[[str], str],
) -> tuple[npt.NDArray[np.int32], list[RowProblem]]:
    """A column's values coded through `known` (-1 where unknown), and a problem naming
    each unknown row's line (`complaint(value)` says what is wrong)."""
    names, index = dictionary_values(table.column(name))
    codes = np.array([known.get(n, -1) for n in names], np.int32)[index]
    problems = [
        RowProblem(int(line[i]), complaint(names[index[i]])) for i in np.flatnonzero(codes < 0)
    ]
    return codes, problems


def float_column(table: pa.Table, name: str) -> npt.NDArray[np.floating]:
    """A float column as one numpy array (no copy when the block is one chunk)."""
    column = table.column(name)
    if column.num_chunks == 1:
        return column.chunk(0).to_numpy()
    return column.to_numpy()


def iter_parsed(
    layout: Layout, handle: BufferedReader, offset: int, block_bytes: int = BLOCK_BYTES
) -> Iterator[ParsedBlock]:
    """Every block of an opened file, parsed; closes the file when done."""
    with handle:
        for block in iter_blocks(handle, offset, block_bytes):
            yield parse_block(layout, block)


def open_parsed(
    path: Path, header: tuple[str, ...], types: Mapping[str, pa.DataType], block_bytes: int
) -> Iterator[ParsedBlock]:
    """The parsed blocks of a file with a fixed header, checked now (before any block)."""
    path = Path(path)
    handle, _, offset = open_with_header(path, [header])
    return iter_parsed(Layout(path, header, types), handle, offset, block_bytes)


def line_texts(block: Block, line: npt.NDArray[np.int64]) -> pa.StringArray:
    """The text of the given lines of a block, without their line ends (no copy per row)."""
    ends = _line_ends(block.data)
    offsets = np.minimum(np.concatenate(([0], ends + 1)), len(block.data)).astype(np.int32)
    every = pa.StringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(block.data))
    picked = every.take(pa.array(line - block.first_line))
    return pc.utf8_rtrim(picked, characters="\r\n")
