"""The CSV formats of the positioning commands: parsing, rejections by line, output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.batches import PositionBatch
from geometry.errors import InputError
from sts.positions_csv import format_positions, read_positions
from sts.readings_csv import read_readings, read_truth, summarise_problems

READERS = ["r1", "r2"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_readings_are_columnar_with_interned_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path, "t,tag,reader,rssi\n1.5,bob,r2,-60\n2.0,amy,r1,-70.5\n\n2.5,bob,r1,-80\n"
    )
    got = read_readings(path, READERS)
    assert got.tag_ids == ("amy", "bob")  # sorted: codes do not depend on row order
    assert got.batch.tag.tolist() == [1, 0, 1]
    assert got.batch.reader.tolist() == [1, 0, 0]
    assert got.batch.rssi.tolist() == [-60.0, -70.5, -80.0]
    assert got.line.tolist() == [2, 3, 5]
    assert got.problems == ()


def test_bad_rows_are_rejected_with_their_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t,tag,reader,rssi\n1,a,r1,-60\n2,a,zz,-60\nx,a,r1,-60\n3,a,r1\n4,a,r2,loud\n5,a,r2,-61\n",
    )
    got = read_readings(path, READERS)
    assert got.line.tolist() == [2, 7]
    assert [(p.line, p.message) for p in got.problems] == [
        (3, "unknown reader 'zz' (known: r1, r2)"),
        (4, "t 'x' is not a number"),
        (5, "3 fields, expected 4"),
        (6, "rssi 'loud' is not a number"),
    ]
    text = summarise_problems(path, got.problems, limit=2)
    assert text.startswith(f"{path}: rejected 4 rows:")
    assert "line 3: unknown reader" in text and "... and 2 more" in text


@pytest.mark.parametrize("text", ["", "\n", "t,tag,rssi\n1,a,-50\n", "t;tag;reader;rssi\n"])
def test_empty_file_or_wrong_header_is_an_input_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(InputError, match=r"expected.*'t,tag,reader,rssi'") as info:
        read_readings(write(tmp_path, text), READERS)
    assert str(tmp_path / "in.csv") in str(info.value)


def test_header_with_bom_and_spaces_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("\ufefft, tag, reader, rssi\n1,a,r1,-50\n", encoding="utf-8")
    assert len(read_readings(path, READERS).batch) == 1


def test_truth_with_and_without_level(tmp_path: Path) -> None:
    a = read_truth(write(tmp_path, "t,tag,x,y\n1,bob,2.5,3\n2,new,1,1\n"), ["amy", "bob"])
    assert a.tag.tolist() == [1, 2] and a.tag_ids == ("amy", "bob", "new")
    assert a.level == ("", "")
    b = read_truth(write(tmp_path, "t,tag,x,y,level\n1,bob,2.5,3,L1\n2,bob,nan,3,L1\n"), ["bob"])
    assert b.level == ("L1",) and [p.line for p in b.problems] == [3]


def test_positions_format_is_fixed(tmp_path: Path) -> None:
    pos = PositionBatch.from_arrays(
        [1.0, 2.0], [1, 0], [0, 0], [1.23456, 2.0], [3.0, 4.5], [1.234, 2.0]
    )
    text = format_positions(pos, ["amy", "bob"], ["L0"])
    assert text == (
        "t,tag,level,x,y,uncertainty_m\n1.000,bob,L0,1.235,3.000,1.23\n2.000,amy,L0,2.000,4.500,2.00\n"
    )
    assert np.isfinite(pos.x).all()


def test_positions_file_rejects_bad_rows_by_line_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "positions.csv"
    path.write_text(
        "t,tag,level,x,y,uncertainty_m\n"
        "2.0,b,L1,1.0,2.0,0.5\n"
        "1.0,a,L0,3.0,4.0,1.5\n"
        "3.0,a,L9,0,0,1\n"
        "4.0,a,L0,x,0,1\n"
        "5.0,a,L0,0,0,-1\n"
        "6.0,,L0,0,0,1\n"
        "7.0,a,L0\n"
    )
    pos = read_positions(path, ["L0", "L1"])
    assert pos.tag_ids == ("a", "b")
    assert pos.batch.t.tolist() == [1.0, 2.0]  # time-ordered
    assert pos.batch.level.tolist() == [0, 1] and pos.batch.tag.tolist() == [0, 1]
    assert pos.batch.uncertainty.tolist() == [1.5, 0.5]
    assert [p.line for p in pos.problems] == [4, 5, 6, 7, 8]
    assert "unknown level 'L9'" in pos.problems[0].message
    assert "'x' is not a number" in pos.problems[1].message


def test_positions_file_with_a_wrong_header_names_the_expected_one(tmp_path: Path) -> None:
    path = tmp_path / "positions.csv"
    path.write_text("t,tag,x,y\n1,a,0,0\n")
    with pytest.raises(InputError, match="t,tag,level,x,y,uncertainty_m"):
        read_positions(path, ["L0"])
