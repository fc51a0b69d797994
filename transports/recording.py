"""The recording: an append-only log of framed msgpack records, in segment files, with a time index.

A recording is a folder:

    seg-00000000.stsrec   segment files, each starting with the 8-byte SEGMENT_MAGIC
    seg-00000001.stsrec   (a new one when the current one passes `segment_bytes`)
    index.bin             append-only time index: (t float64, segment uint32, offset uint64)

Every record is one frame: FRAME_MAGIC (2 bytes), the payload length (uint32 LE), the
CRC-32 of the payload (uint32 LE), then the payload, a msgpack map. Reading checks the
magic, the length and the checksum of every frame. A damaged frame (a flipped byte, a
tail cut off mid-frame by a crash) is reported as `Damage` (segment, offset, bytes
skipped, why) and skipped: the reader looks for the next frame whose checksum holds and
goes on, so no intact record is lost. The index only speeds up seeking to a time; a
missing or short index costs a scan, never a record.

    with RecordingWriter(folder) as log:
        log.append({"k": "readings", ...}, t=12.0)
    reader = RecordingReader(folder)
    for record in reader.records():
        ...
    reader.damage   # what was skipped, if anything

`pace` replays records at 1x, N x or as fast as possible against a clock.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import numpy.typing as npt

from geometry.errors import InputError

SEGMENT_MAGIC = b"STSREC1\n"
FRAME_MAGIC = b"\xa5\x5a"
_FRAME = struct.Struct("<2sII")  # magic, payload length, crc32
_INDEX = struct.Struct("<dIQ")  # t, segment number, offset
MAX_RECORD_BYTES = 256 * 1024 * 1024
INDEX_NAME = "index.bin"


def segment_name(number: int) -> str:
    """File name of segment `number`."""
    return f"seg-{number:08d}.stsrec"


def pack_array(a: npt.NDArray[Any]) -> bytes:
    """A numpy column as little-endian bytes (its dtype is known from the record kind)."""
    return np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes()


def unpack_array(data: bytes, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    """A column back from `pack_array` (a fresh, writable array in native byte order)."""
    return np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)


class RecordingWriter:
    """Appends records to a recording folder (new, or an existing one continued)."""

    def __init__(
        self,
        folder: str | Path,
        *,
        segment_bytes: int = 64 * 1024 * 1024,
        index_every_s: float = 1.0,
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self.index_every_s = index_every_s
        existing = sorted(self.folder.glob("seg-*.stsrec"))
        self._number = len(existing)
        self._file = self._open_segment()
        self._index = (self.folder / INDEX_NAME).open("ab")
        self._last_indexed = -np.inf
        self.records = 0

    def _open_segment(self) -> Any:
        f = (self.folder / segment_name(self._number)).open("ab")
        if f.tell() == 0:
            f.write(SEGMENT_MAGIC)
        return f

    def append(self, record: Mapping[str, Any], t: float | None = None) -> None:
        """Write one record; with t, the time index may point at it."""
        payload = msgpack.packb(record, use_bin_type=True)
        if self._file.tell() + len(payload) > self.segment_bytes and self._file.tell() > len(
            SEGMENT_MAGIC
        ):
            self._file.close()
            self._number += 1
            self._file = self._open_segment()
        offset = self._file.tell()
        self._file.write(_FRAME.pack(FRAME_MAGIC, len(payload), zlib.crc32(payload)))
        self._file.write(payload)
        if t is not None and t >= self._last_indexed + self.index_every_s:
            self._index.write(_INDEX.pack(float(t), self._number, offset))
            self._last_indexed = t
        self.records += 1

    def flush(self) -> None:
        """Push what was written to the operating system."""
        self._file.flush()
        self._index.flush()

    def close(self) -> None:
        """Flush and close the files."""
        self._file.close()
        self._index.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class Damage:
    """Bytes of a segment that were skipped because they held no intact frame."""

    segment: str
    offset: int
    skipped_bytes: int
    reason: str

    def __str__(self) -> str:
        where = f"{self.segment}: offset {self.offset}"
        return f"{where}: {self.reason}; skipped {self.skipped_bytes} bytes"


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """The time index: the first record at or after `t` is at (segment, offset)."""

    t: float
    segment: int
    offset: int


class RecordingReader:
    """Reads a recording's records in order, skipping and reporting damaged frames."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.segments = sorted(self.folder.glob("seg-*.stsrec"))
        if not self.segments:
            raise InputError(
                f"{self.folder}: no recording here (no seg-*.stsrec files); give the "
                "folder `sts simulate --out` wrote"
            )
        self.damage: list[Damage] = []

    def index(self) -> list[IndexEntry]:
        """The time index as far as it is whole (a torn last entry is ignored)."""
        path = self.folder / INDEX_NAME
        data = path.read_bytes() if path.is_file() else b""
        whole = len(data) - len(data) % _INDEX.size
        return [IndexEntry(*_INDEX.unpack_from(data, k)) for k in range(0, whole, _INDEX.size)]

    def records(self, start_t: float | None = None) -> Iterator[dict[str, Any]]:
        """Every intact record in order; from the indexed position before `start_t` if given."""
        self.damage = []
        first_segment, first_offset = 0, len(SEGMENT_MAGIC)
        if start_t is not None:
            before = [e for e in self.index() if e.t <= start_t]
            if before:
                first_segment, first_offset = before[-1].segment, before[-1].offset
        for number, path in enumerate(self.segments):
            if number < first_segment:
                continue
            yield from self._segment(
                path, first_offset if number == first_segment else len(SEGMENT_MAGIC)
            )

    def _segment(self, path: Path, start: int) -> Iterator[dict[str, Any]]:
        data = path.read_bytes()
        if not data.startswith(SEGMENT_MAGIC):
            self.damage.append(
                Damage(path.name, 0, min(len(data), len(SEGMENT_MAGIC)), "segment header damaged")
            )
        pos = start
        while pos < len(data):
            record, size, why = _frame_at(data, pos)
            if record is not None:
                yield record
                pos += size
                continue
            nxt = _resync(data, pos + 1)
            self.damage.append(Damage(path.name, pos, nxt - pos, why))
            pos = nxt


def _frame_at(data: bytes, pos: int) -> tuple[dict[str, Any] | None, int, str]:
    """(record, frame size, "") for an intact frame at pos, else (None, 0, why not)."""
    if len(data) - pos < _FRAME.size:
        return None, 0, "truncated frame header at the end of the segment"
    magic, length, crc = _FRAME.unpack_from(data, pos)
    if magic != FRAME_MAGIC:
        return None, 0, "no frame starts here"
    if length > MAX_RECORD_BYTES:
        return None, 0, f"implausible frame length {length}"
    end = pos + _FRAME.size + length
    if end > len(data):
        return None, 0, "truncated frame at the end of the segment"
    payload = data[pos + _FRAME.size : end]
    if zlib.crc32(payload) != crc:
        return None, 0, "checksum mismatch"
    try:
        record = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException):
        return None, 0, "payload is not msgpack"
    if not isinstance(record, dict):
        return None, 0, "payload is not a map"
    return record, end - pos, ""


def _resync(data: bytes, pos: int) -> int:
    """The offset of the next intact frame at or after pos (the end of data if none)."""
    while True:
        pos = data.find(FRAME_MAGIC, pos)
        if pos < 0:
            return len(data)
        if _frame_at(data, pos)[0] is not None:
            return pos
        pos += 1


def pace(
    items: Iterable[Any],
    time_of: Callable[[Any], float],
    speed: float | None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Any]:
    """Items no sooner than their data time allows at `speed` x real time (None: at once)."""
    start_wall: float | None = None
    start_data = 0.0
    for item in items:
        if speed is not None:
            t = time_of(item)
            if start_wall is None:
                start_wall, start_data = clock(), t
            due = start_wall + (t - start_data) / speed
            wait = due - clock()
            if wait > 0:
                sleep(wait)
        yield item
