"""Gateway frame decoding: every shape of frame, and fuzzing (only FrameError escapes)."""

from __future__ import annotations

import contextlib
import json

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transports.ingest_codec import FrameError, decode_frame, encode_columns


def test_rows_as_lists_and_maps_give_the_same_columns() -> None:
    rows = [[1.5, "b1", "r2", -60], {"t": 2.0, "tag": "b0", "reader": "r2", "rssi": -70.5}]
    frame = decode_frame(json.dumps({"type": "readings", "id": "f1", "rows": rows}), 10)
    assert frame.frame_id == "f1"
    assert frame.t.tolist() == [1.5, 2.0]
    assert [frame.tag_ids[c] for c in frame.tag] == ["b1", "b0"]
    assert [frame.reader_ids[c] for c in frame.reader] == ["r2", "r2"]
    assert frame.rssi.tolist() == [-60.0, -70.5]
    packed = decode_frame(msgpack.packb({"type": "readings", "rows": rows}), 10)
    assert packed.t.tolist() == frame.t.tolist()


def test_columns_round_trip() -> None:
    t = np.array([1.0, 2.0, 3.0])
    raw = encode_columns("c1", t, ["a", "b", "a"], ["r1", "r1", "r9"], [-50, -60, -70])
    frame = decode_frame(raw, 10)
    assert frame.t.tolist() == t.tolist()
    assert [frame.tag_ids[c] for c in frame.tag] == ["a", "b", "a"]
    assert [frame.reader_ids[c] for c in frame.reader] == ["r1", "r1", "r9"]
    assert frame.rssi.tolist() == [-50.0, -60.0, -70.0]


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{", "bad_frame"),
        (b"\xc1", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        ('{"type": "hello"}', "unknown_type"),
        ('{"type": "readings"}', "bad_field"),
        ('{"type": "readings", "rows": [[1, "a", "r"]]}', "bad_field"),
        ('{"type": "readings", "rows": [[true, "a", "r", -50]]}', "bad_field"),
        ('{"type": "readings", "rows": [[1, "", "r", -50]]}', "bad_field"),
        ('{"type": "readings", "rows": [[1, "a", "r", "-50"]]}', "bad_field"),
        ('{"type": "readings", "id": 5, "rows": []}', "bad_field"),
        ('{"type": "readings", "rows": [[1, "a", "r", -50], [1, "a", "r", -50]]}', "too_large"),
    ],
)
def test_bad_frames_name_their_problem(frame: str | bytes, code: str) -> None:
    with pytest.raises(FrameError) as err:
        decode_frame(frame, max_rows=1)
    assert err.value.code == code


def test_column_codes_must_index_their_table() -> None:
    raw = msgpack.packb(
        {
            "type": "columns",
            "t": [1.0],
            "rssi": [-50.0],
            "tag": [3],
            "tag_ids": ["a"],
            "reader": [0],
            "reader_ids": ["r"],
        }
    )
    with pytest.raises(FrameError, match="index"):
        decode_frame(raw, 10)


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=16),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_escape_as_anything_but_frame_error(data: bytes) -> None:
    with contextlib.suppress(FrameError):
        decode_frame(data, 100)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["readings", "columns", "x"]),
    st.dictionaries(
        st.sampled_from(["rows", "t", "rssi", "tag", "tag_ids", "reader", "reader_ids", "id"]),
        values,
        max_size=7,
    ),
)
def test_random_maps_never_escape_as_anything_but_frame_error(kind: str, body: dict) -> None:
    message = {"type": kind, **body}
    for encoded in (msgpack.packb(message, use_bin_type=True),):
        try:
            frame = decode_frame(encoded, 100)
        except FrameError:
            continue
        n = len(frame)
        assert len(frame.tag) == len(frame.reader) == len(frame.rssi) == n
        assert (frame.tag < max(1, len(frame.tag_ids))).all()
