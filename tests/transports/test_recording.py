"""The recording log: round trip, segments, the time index, damage found and skipped, pacing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geometry.errors import InputError
from transports.recording import (
    FRAME_MAGIC,
    SEGMENT_MAGIC,
    RecordingReader,
    RecordingWriter,
    pace,
    pack_array,
    unpack_array,
)


def _write(folder: Path, n: int = 10, **kw: int) -> list[dict]:
    records = [
        {"k": "r", "i": i, "t": float(i), "data": bytes(range(i % 50)) * 3} for i in range(n)
    ]
    with RecordingWriter(folder, **kw) as log:
        for r in records:
            log.append(r, r["t"])
    return records


def _frame_offsets(path: Path) -> list[int]:
    data = path.read_bytes()
    out, pos = [], len(SEGMENT_MAGIC)
    while pos < len(data):
        out.append(pos)
        length = int.from_bytes(data[pos + 2 : pos + 6], "little")
        pos += 10 + length
    return out


def test_round_trip_in_order(tmp_path):
    records = _write(tmp_path)
    reader = RecordingReader(tmp_path)
    assert list(reader.records()) == records
    assert reader.damage == []


def test_columns_round_trip():
    a = np.array([1.5, -2.0, 3e9])
    assert np.array_equal(unpack_array(pack_array(a), np.float64), a)
    b = np.array([3, -1], dtype=np.int32)
    assert unpack_array(pack_array(b), np.int32).tolist() == [3, -1]


def test_segments_roll_over_and_the_index_seeks(tmp_path):
    records = _write(tmp_path, 40, segment_bytes=400)
    segments = sorted(tmp_path.glob("seg-*.stsrec"))
    assert len(segments) > 3
    reader = RecordingReader(tmp_path)
    assert list(reader.records()) == records
    index = reader.index()
    assert [e.t for e in index] == sorted(e.t for e in index)
    later = list(reader.records(start_t=25.0))
    assert later[0]["i"] <= 25 and later[-1] == records[-1]
    assert [r["i"] for r in later] == list(range(later[0]["i"], 40))


def test_truncated_tail_is_reported_and_the_intact_records_kept(tmp_path):
    records = _write(tmp_path)
    seg = tmp_path / "seg-00000000.stsrec"
    last = _frame_offsets(seg)[-1]
    seg.write_bytes(seg.read_bytes()[: last + 12])  # cut inside the last frame's payload
    reader = RecordingReader(tmp_path)
    assert list(reader.records()) == records[:-1]
    assert len(reader.damage) == 1
    assert "truncated" in reader.damage[0].reason and reader.damage[0].offset == last


@pytest.mark.parametrize("where", [0, 1, 4, 8, 11, 30])
def test_a_flipped_byte_loses_only_its_record(tmp_path, where):
    records = _write(tmp_path)
    seg = tmp_path / "seg-00000000.stsrec"
    offsets = _frame_offsets(seg)
    data = bytearray(seg.read_bytes())
    hit = offsets[4] + where
    data[hit] ^= 0x40
    seg.write_bytes(bytes(data))
    reader = RecordingReader(tmp_path)
    got = list(reader.records())
    assert got == records[:4] + records[5:]
    assert len(reader.damage) == 1 and reader.damage[0].offset == offsets[4]
    assert str(reader.damage[0]).startswith("seg-00000000.stsrec: offset")


@given(st.integers(min_value=len(SEGMENT_MAGIC), max_value=10_000), st.integers(1, 255))
def test_any_single_corruption_keeps_every_other_record(tmp_path_factory, pos, xor):
    folder = tmp_path_factory.mktemp("rec")
    records = _write(folder, 12)
    seg = folder / "seg-00000000.stsrec"
    data = bytearray(seg.read_bytes())
    pos %= len(data)
    pos = max(pos, len(SEGMENT_MAGIC))
    data[pos] ^= xor
    seg.write_bytes(bytes(data))
    got = list(RecordingReader(folder).records())
    hit = max(k for k, off in enumerate(_frame_offsets_of(records, folder)) if off <= pos)
    assert [r["i"] for r in got] == [r["i"] for k, r in enumerate(records) if k != hit]


def _frame_offsets_of(records: list[dict], folder: Path) -> list[int]:
    clean = folder.parent / (folder.name + "-clean")
    if not clean.exists():
        _write(clean, len(records))
    return _frame_offsets(clean / "seg-00000000.stsrec")


def test_not_a_recording(tmp_path):
    with pytest.raises(InputError, match="no recording here"):
        RecordingReader(tmp_path)


def test_frame_magic_inside_a_payload_does_not_confuse_the_reader(tmp_path):
    records = [{"k": "r", "blob": FRAME_MAGIC * 20, "i": i} for i in range(5)]
    with RecordingWriter(tmp_path) as log:
        for r in records:
            log.append(r)
    seg = tmp_path / "seg-00000000.stsrec"
    data = bytearray(seg.read_bytes())
    data[_frame_offsets(seg)[2] + 1] ^= 0xFF
    seg.write_bytes(bytes(data))
    assert [r["i"] for r in RecordingReader(tmp_path).records()] == [0, 1, 3, 4]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


@pytest.mark.parametrize(("speed", "expected"), [(1.0, [1.0, 1.0, 3.0]), (2.0, [0.5, 0.5, 1.5])])
def test_pace_at_n_times_real_time(speed, expected):
    c = FakeClock()
    out = list(pace([10.0, 11.0, 12.0, 15.0], float, speed, clock=c.clock, sleep=c.sleep))
    assert out == [10.0, 11.0, 12.0, 15.0]
    assert c.slept == pytest.approx(expected)


def test_pace_as_fast_as_possible_never_sleeps():
    c = FakeClock()
    assert list(pace([1.0, 50.0], float, None, clock=c.clock, sleep=c.sleep)) == [1.0, 50.0]
    assert c.slept == []
