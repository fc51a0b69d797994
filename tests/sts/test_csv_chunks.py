"""The chunked CSV reader: exact lines across blocks, refusals, and block-size invariance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geometry.errors import InputError
from sts.positions_csv import iter_positions
from sts.readings_csv import ReadingsChunk, iter_readings, read_readings

READERS = ["r1", "r2"]
HEADER = "t,tag,reader,rssi\n"


def write(tmp_path: Path, data: str | bytes) -> Path:
    path = tmp_path / "readings.csv"
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def flatten(chunks: list[ReadingsChunk]) -> dict[str, object]:
    """Everything a chunked read gives, with chunk boundaries erased."""

    def cat(arrays: list[np.ndarray]) -> list[float]:
        return np.concatenate(arrays).tolist() if arrays else []

    return {
        "t": cat([c.batch.t for c in chunks]),
        "tag": cat([c.batch.tag for c in chunks]),
        "reader": cat([c.batch.reader for c in chunks]),
        "rssi": cat([c.batch.rssi for c in chunks]),
        "line": cat([c.line for c in chunks]),
        "problems": [(p.line, p.message) for c in chunks for p in c.problems],
        "tag_ids": chunks[-1].tag_ids if chunks else (),
    }


def test_bad_rows_in_many_blocks_keep_their_line_and_field(tmp_path: Path) -> None:
    rows = [f"{i},tag{i % 3},r{1 + i % 2},-{50 + i % 7}" for i in range(60)]
    rows[7] = "7,tag1,r1,loud"
    rows[23] = "x23,tag2,r2,-60"
    rows[31] = "31,tag1,zz,-60"
    rows[44] = "44,tag1"
    rows[50] = ""
    path = write(tmp_path, HEADER + "\n".join(rows) + "\n")
    chunks = list(iter_readings(path, READERS, block_bytes=64))
    assert len(chunks) > 10  # the file spans many blocks
    got = flatten(chunks)
    assert got["problems"] == [
        (9, "rssi 'loud' is not a number"),
        (25, "t 'x23' is not a number"),
        (33, "unknown reader 'zz' (known: r1, r2)"),
        (46, "2 fields, expected 4"),
    ]
    kept = [i for i in range(60) if i not in (7, 23, 31, 44, 50)]
    assert got["line"] == [i + 2 for i in kept]
    assert got["t"] == [float(i) for i in kept]
    assert got["tag_ids"] == ("tag0", "tag1", "tag2")  # codes in order of first use


def test_block_cut_inside_a_row_and_a_row_longer_than_a_block(tmp_path: Path) -> None:
    long_tag = "t" * 300
    text = HEADER + f"1.5,a,r1,-50\n2.5,{long_tag},r2,-61\n3.5,a,r2,-62\n"
    path = write(tmp_path, text)
    for block in (1, 5, 13, 64, 1 << 20):
        got = flatten(list(iter_readings(path, READERS, block_bytes=block)))
        assert got["t"] == [1.5, 2.5, 3.5] and got["line"] == [2, 3, 4], block
        assert got["tag_ids"] == ("a", long_tag)


def test_last_line_without_newline_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "1,a,r1,-50\n2,b,r2,-51")
    got = read_readings(path, READERS)
    assert got.line.tolist() == [2, 3] and got.tag_ids == ("a", "b")


@pytest.mark.parametrize("tail", ["2,b,r", "2,b,r2,-5x", "2,b"])
def test_file_cut_short_in_a_row_is_refused(tmp_path: Path, tail: str) -> None:
    path = write(tmp_path, HEADER + "1,a,r1,-50\n" + tail)
    with pytest.raises(InputError, match=r"line 3: the file ends in the middle of a row"):
        read_readings(path, READERS)


def test_header_only_gives_no_rows(tmp_path: Path) -> None:
    got = read_readings(write(tmp_path, HEADER), READERS)
    assert len(got.batch) == 0 and got.tag_ids == () and got.problems == ()


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    path = write(
        tmp_path, "\ufeff" + HEADER.replace("\n", "\r\n") + "1,a,r1,-50\r\n\r\n2,b,r2,-5\r\n"
    )
    for block in (3, 1 << 20):
        got = flatten(list(iter_readings(path, READERS, block_bytes=block)))
        assert got["line"] == [2, 4] and got["rssi"] == [-50.0, -5.0] and got["problems"] == []


@pytest.mark.parametrize("block", [4, 1 << 20])
def test_bytes_that_are_not_utf8_are_refused_with_their_offset(tmp_path: Path, block: int) -> None:
    body = b"1,a,r1,-50\n2,caf\xe9,r1,-50\n"
    path = write(tmp_path, b"\xef\xbb\xbf" + HEADER.encode() + body)
    offset = 3 + len(HEADER) + len(b"1,a,r1,-50\n2,caf")
    with pytest.raises(InputError) as info:
        read_readings(path, READERS) if block > 4 else list(
            iter_readings(path, READERS, block_bytes=block)
        )
    message = str(info.value)
    assert f"byte {offset} (line 3): 0xe9 is not UTF-8" in message and "iconv" in message


def test_a_header_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"byte 1 \(line 1\): 0xff is not UTF-8"):
        read_readings(write(tmp_path, b"t\xff,tag,reader,rssi\n"), READERS)


def test_quoted_line_break_is_refused_naming_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + '1,a,r1,-50\n2,"b\nc",r1,-50\n3,a,r1,-50\n')
    for block in (8, 1 << 20):
        with pytest.raises(InputError, match=r"line 3: a quoted field holds a line break"):
            list(iter_readings(path, READERS, block_bytes=block))


def test_quoted_fields_without_line_breaks_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + '1,"a,b",r1,-50\n2,"say ""hi""",r2,-51\n')
    assert read_readings(path, READERS).tag_ids == ("a,b", 'say "hi"')


def test_a_lone_carriage_return_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "1,a,r1,-50\r2,a,r1,-50\n")
    with pytest.raises(InputError, match=r"line 2: a carriage return"):
        read_readings(path, READERS)


def test_positions_chunks_keep_stable_tag_codes(tmp_path: Path) -> None:
    path = tmp_path / "positions.csv"
    rows = [f"{i}.0,{'ab'[i % 2]}{i // 20},L{i % 2},1,2,0.5" for i in range(80)]
    rows[30] = "30.0,a1,L7,1,2,0.5"
    path.write_text("t,tag,level,x,y,uncertainty_m\n" + "\n".join(rows) + "\n")
    chunks = list(iter_positions(path, ["L0", "L1"], block_bytes=100))
    assert len(chunks) > 10
    ids = chunks[-1].tag_ids
    for c in chunks:
        assert c.tag_ids == ids[: len(c.tag_ids)]  # the table only grows
        for code, line in zip(c.batch.tag.tolist(), c.line.tolist(), strict=True):
            assert ids[code] == rows[line - 2].split(",")[1]
    assert [(p.line, p.message[:13]) for c in chunks for p in c.problems] == [(32, "unknown level")]


_GOOD = st.builds(
    "{},{},{},{}".format,
    st.integers(0, 10**6).map(lambda v: f"{v / 8:.3f}"),
    st.sampled_from(["a", "b", " c ", "déjà", '"q,r"']),
    st.sampled_from(["r1", "r2", "r3"]),
    st.integers(-120, -20),
)
_BAD = st.sampled_from(["", "   ", "1,a", "x,a,r1,-50", "1,a,r1,", "1,a,r1,-50,9", "1,a,r2,inf"])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.one_of(_GOOD, _GOOD, _GOOD, _BAD), max_size=40),
    block=st.integers(1, 120),
    crlf=st.booleans(),
)
def test_results_do_not_depend_on_the_block_size(
    tmp_path: Path, rows: list[str], block: int, crlf: bool
) -> None:
    end = "\r\n" if crlf else "\n"
    path = write(tmp_path, HEADER.replace("\n", end) + "".join(r + end for r in rows))
    whole = flatten(list(iter_readings(path, READERS, block_bytes=1 << 20)))
    assert flatten(list(iter_readings(path, READERS, block_bytes=block))) == whole
    assert len(whole["line"]) + len({p[0] for p in whole["problems"]}) == sum(  # type: ignore[arg-type]
        1 for r in rows if r.strip()
    )
