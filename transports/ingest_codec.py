"""Reader ingest frames -> columns: the gateway wire format, decoded without the engine.

A gateway sends one batch per frame, as a msgpack or JSON map (docs/protocol.md):

- rows: ``{"type": "readings", "id": "f-17", "rows": [[t, tag, reader, rssi], ...]}``
  (each row may also be a map with those keys); `t` in epoch seconds, `rssi` in dBm;
- columns (msgpack, for high-rate gateways): ``{"type": "columns", "id": "f-18",
  "t": <float64 LE bytes>, "rssi": <float32 LE bytes>, "tag": <int32 LE bytes>,
  "tag_ids": [...], "reader": <int32 LE bytes>, "reader_ids": [...]}`` where `tag` and
  `reader` are codes into their tables (lists of numbers are accepted for every column).

A frame that is not one of these (bad msgpack or JSON, an unknown type, a field of the
wrong type, too many rows) raises `FrameError` with a code and a message and nothing of
it is used; rows that are individually bad (unknown reader, RSSI out of range, late) are
the server's to count, one by one, with the rest of the frame kept.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np
import numpy.typing as npt

from geometry.errors import InputError

#: Longest tag or reader id accepted, characters.
MAX_ID_CHARS = 64


class FrameError(InputError):
    """A frame that cannot be used at all; `code` is its error code on the wire."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """One frame's readings as columns; `tag`/`reader` are codes into their tables."""

    frame_id: str | None
    t: npt.NDArray[np.float64]
    tag: npt.NDArray[np.int32]
    tag_ids: tuple[str, ...]
    reader: npt.NDArray[np.int32]
    reader_ids: tuple[str, ...]
    rssi: npt.NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.t)


def load_message(data: bytes | str) -> Any:
    """A msgpack (bytes) or JSON (text) message as Python values, or FrameError."""
    if isinstance(data, str):
        try:
            return json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise FrameError("bad_frame", f"not valid JSON: {exc}") from None
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True, max_bin_len=len(data))
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise FrameError("bad_frame", f"not valid msgpack: {exc}") from None
    except (TypeError, UnicodeDecodeError, RecursionError) as exc:
        raise FrameError("bad_frame", f"not valid msgpack: {exc}") from None


def decode_frame(data: bytes | str, max_rows: int) -> DecodedFrame:
    """Decode one gateway frame (see the module docstring) or raise FrameError."""
    return decode_message(load_message(data), max_rows)


def decode_message(msg: Any, max_rows: int) -> DecodedFrame:
    """A decoded message (a map) as a frame of readings, or FrameError."""
    if not isinstance(msg, Mapping):
        raise FrameError("bad_frame", "a frame must be a map with a 'type'")
    kind = msg.get("type")
    frame_id = msg.get("id")
    if frame_id is not None and (not isinstance(frame_id, str) or len(frame_id) > 128):
        raise FrameError("bad_field", "'id' must be a string of at most 128 characters")
    if kind == "readings":
        return _rows(frame_id, msg.get("rows"), max_rows)
    if kind == "columns":
        return _columns(frame_id, msg, max_rows)
    raise FrameError("unknown_type", f"unknown frame type {kind!r}; use 'readings' or 'columns'")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FrameError("bad_field", f"{where} must be a number, got {type(value).__name__}")
    return float(value)


def _ident(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
        raise FrameError(
            "bad_field", f"{where} must be a non-empty string of at most {MAX_ID_CHARS} characters"
        )
    return value


def _row(row: Any, i: int) -> tuple[float, str, str, float]:
    where = f"rows[{i}]"
    if isinstance(row, Mapping):
        try:
            row = (row["t"], row["tag"], row["reader"], row["rssi"])
        except KeyError as exc:
            raise FrameError("bad_field", f"{where} lacks {exc.args[0]!r}") from None
    if not isinstance(row, list | tuple) or len(row) != 4:
        raise FrameError("bad_field", f"{where} must be [t, tag, reader, rssi]")
    t, tag, reader, rssi = row
    return (
        _number(t, f"{where}.t"),
        _ident(tag, f"{where}.tag"),
        _ident(reader, f"{where}.reader"),
        _number(rssi, f"{where}.rssi"),
    )


def _table(values: Sequence[str]) -> tuple[tuple[str, ...], npt.NDArray[np.int32]]:
    """Distinct values (sorted) and each value's code into them."""
    # A set and a dict, not np.unique over an object array, which sorts every row's
    # string with Python comparisons: a gateway frame has thousands of rows and few ids.
    table = sorted(set(values))
    index = {v: i for i, v in enumerate(table)}
    codes = np.fromiter((index[v] for v in values), np.int32, len(values))
    return tuple(str(v) for v in table), codes


def _rows(frame_id: str | None, rows: Any, max_rows: int) -> DecodedFrame:
    if not isinstance(rows, list):
        raise FrameError("bad_field", "'rows' must be a list of [t, tag, reader, rssi]")
    if len(rows) > max_rows:
        raise FrameError("too_large", f"{len(rows)} rows; at most {max_rows} per frame")
    parsed = [_row(r, i) for i, r in enumerate(rows)]
    ts, tags, readers, rssis = zip(*parsed, strict=True) if parsed else ((), (), (), ())
    tag_ids, tag = _table(tags) if parsed else ((), np.empty(0, np.int32))
    reader_ids, reader = _table(readers) if parsed else ((), np.empty(0, np.int32))
    return DecodedFrame(
        frame_id,
        np.asarray(ts, np.float64),
        tag,
        tag_ids,
        reader,
        reader_ids,
        np.asarray(rssis, np.float32),
    )


def _column(msg: Mapping[str, Any], key: str, dtype: type[np.generic], n: int | None) -> Any:
    value = msg.get(key)
    if isinstance(value, bytes | bytearray):
        size = np.dtype(dtype).itemsize
        if len(value) % size:
            raise FrameError("bad_field", f"'{key}' bytes are not a whole number of {dtype}")
        arr = np.frombuffer(bytes(value), dtype=np.dtype(dtype).newbyteorder("<"))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _number(v, f"{key}[{i}]")
        arr = np.asarray(value, dtype=np.float64)
    else:
        raise FrameError("bad_field", f"'{key}' must be bytes (little-endian) or a list")
    if n is not None and len(arr) != n:
        raise FrameError("bad_field", f"'{key}' has {len(arr)} values, 't' has {n}")
    return arr


def _codes(msg: Mapping[str, Any], key: str, n: int) -> tuple[tuple[str, ...], Any]:
    table = msg.get(f"{key}_ids")
    if not isinstance(table, list):
        raise FrameError("bad_field", f"'{key}_ids' must be a list of ids")
    ids = tuple(_ident(v, f"{key}_ids[{i}]") for i, v in enumerate(table))
    codes = _column(msg, key, np.int32, n)
    if len(codes) and (codes.min() < 0 or codes.max() >= len(ids) or not _integral(codes)):
        raise FrameError("bad_field", f"'{key}' codes must index '{key}_ids'")
    return ids, codes.astype(np.int32)


def _integral(a: Any) -> bool:
    return bool(np.all(np.floor(a) == a))


def _columns(frame_id: str | None, msg: Mapping[str, Any], max_rows: int) -> DecodedFrame:
    t = _column(msg, "t", np.float64, None)
    n = len(t)
    if n > max_rows:
        raise FrameError("too_large", f"{n} rows; at most {max_rows} per frame")
    rssi = _column(msg, "rssi", np.float32, n)
    tag_ids, tag = _codes(msg, "tag", n)
    reader_ids, reader = _codes(msg, "reader", n)
    return DecodedFrame(
        frame_id,
        np.ascontiguousarray(t, np.float64),
        tag,
        tag_ids,
        reader,
        reader_ids,
        np.ascontiguousarray(rssi, np.float32),
    )


def encode_columns(
    frame_id: str | None,
    t: npt.ArrayLike,
    tags: Sequence[str],
    readers: Sequence[str],
    rssi: npt.ArrayLike,
) -> bytes:
    """A columns frame (msgpack) from per-row tag and reader ids: what a gateway sends."""
    tag_ids, tag = _table(tags) if len(tags) else ((), np.empty(0, np.int32))
    reader_ids, reader = _table(readers) if len(readers) else ((), np.empty(0, np.int32))
    return encode_coded_columns(frame_id, t, Coded(tag, tag_ids), Coded(reader, reader_ids), rssi)


@dataclass(frozen=True, slots=True)
class Coded:
    """A column of ids as codes into a table of the distinct ids."""

    codes: npt.NDArray[np.int32]
    ids: Sequence[str]

    def only_used(self) -> Coded:
        """The same column with a table of only the ids its codes use."""
        used, codes = np.unique(self.codes, return_inverse=True)
        return Coded(codes.astype(np.int32).ravel(), [self.ids[i] for i in used.tolist()])


def encode_coded_columns(
    frame_id: str | None, t: npt.ArrayLike, tag: Coded, reader: Coded, rssi: npt.ArrayLike
) -> bytes:
    """A columns frame (msgpack) from columns already coded into tables."""
    packed: bytes = msgpack.packb(
        {
            "type": "columns",
            "id": frame_id,
            "t": np.ascontiguousarray(t, "<f8").tobytes(),
            "rssi": np.ascontiguousarray(rssi, "<f4").tobytes(),
            "tag": np.ascontiguousarray(tag.codes, "<i4").tobytes(),
            "tag_ids": list(tag.ids),
            "reader": np.ascontiguousarray(reader.codes, "<i4").tobytes(),
            "reader_ids": list(reader.ids),
        }
    )
    return packed
