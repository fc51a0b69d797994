"""`sts calibrate` and `sts locate` end to end on slices of real tetam tracks, and bad input."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sts.cli import main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "tetam-ble"
FLOORPLAN = ROOT / "floorplans" / "tetam"


def mbd_rows(name: str, seconds: float | None = None) -> list[list[str]]:
    """The rows of a tetam track, optionally only its first `seconds`."""
    with open(DATA / f"{name}_all_sensors.mbd", newline="") as fh:
        rows = [r for r in csv.reader(fh) if r]
    if seconds is not None:
        t0 = float(rows[0][0])
        rows = [r for r in rows if float(r[0]) - t0 <= seconds]
    return rows


def write_track(folder: Path, name: str, seconds: float | None = None) -> tuple[Path, Path]:
    """readings.csv and truth.csv of (a slice of) a track."""
    rows = mbd_rows(name, seconds)
    readings = folder / f"{name}.readings.csv"
    truth = folder / f"{name}.truth.csv"
    readings.write_text(
        "t,tag,reader,rssi\n" + "".join(f"{r[0]},badge-7,{r[1]},{r[3]}\n" for r in rows)
    )
    truth.write_text("t,tag,x,y\n" + "".join(f"{r[0]},badge-7,{r[4]},{r[5]}\n" for r in rows))
    return readings, truth


def read_positions(path: Path) -> dict[str, np.ndarray]:
    """positions.csv as columns."""
    lines = path.read_text().splitlines()
    assert lines[0] == "t,tag,level,x,y,uncertainty_m"
    cols = list(zip(*(ln.split(",") for ln in lines[1:]), strict=True))
    return {
        "t": np.array(cols[0], float),
        "tag": np.array(cols[1]),
        "level": np.array(cols[2]),
        "x": np.array(cols[3], float),
        "y": np.array(cols[4], float),
        "u": np.array(cols[5], float),
    }


@pytest.fixture(scope="module")
def calibration(tmp_path_factory) -> Path:
    """A calibration from two training tracks (not the ones located below)."""
    folder = tmp_path_factory.mktemp("cal")
    r1, t1 = write_track(folder, "straight_01")
    r2, t2 = write_track(folder, "straight_03")
    readings = folder / "survey.readings.csv"
    truth = folder / "survey.truth.csv"
    # Two walks of one survey: the second tag id keeps their truth apart.
    readings.write_text(r1.read_text() + r2.read_text().split("\n", 1)[1].replace("badge-7", "b2"))
    truth.write_text(t1.read_text() + t2.read_text().split("\n", 1)[1].replace("badge-7", "b2"))
    out = folder / "cal.toml"
    code = main(
        [
            "calibrate",
            "--floorplan", str(FLOORPLAN),
            "--readings", str(readings),
            "--truth", str(truth),
            "--tag-height", "1.8",
            "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    return out


def test_calibrate_writes_a_calibration_for_every_reader(calibration: Path) -> None:
    import tomllib

    data = tomllib.loads(calibration.read_text())
    assert data["calibration"]["format"] == "sts-calibration"
    assert data["calibration"]["tag_height_m"] == pytest.approx(1.8)
    # The reported radius is rescaled to hold about 68% of the survey's fixes.
    assert 0.05 < data["calibration"]["uncertainty_scale"] < 5
    assert len(data["readers"]) == 12
    assert "b827eb4521b4" in data["readers"]
    for table in data["readers"].values():
        assert -90 < table["rssi_1m"] < -40
        assert 0.5 < table["exponent"] < 5


def test_locate_a_held_out_track_end_to_end(calibration: Path, tmp_path: Path) -> None:
    readings, _ = write_track(tmp_path, "straight_05", seconds=60)
    out = tmp_path / "positions.csv"
    code = main(
        ["locate", "--floorplan", str(FLOORPLAN), "--readings", str(readings),
         "--calibration", str(calibration), "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    pos = read_positions(out)
    assert set(pos["tag"].tolist()) == {"badge-7"}
    assert set(pos["level"].tolist()) == {"L0"}
    assert np.all(np.diff(pos["t"]) == pytest.approx(1.0))  # one fix per second
    assert 55 <= len(pos["t"]) <= 62
    rows = mbd_rows("straight_05", 60)
    tt = np.array([float(r[0]) for r in rows])
    o = np.argsort(tt, kind="stable")
    tx = np.interp(pos["t"], tt[o], np.array([float(r[4]) for r in rows])[o])
    ty = np.interp(pos["t"], tt[o], np.array([float(r[5]) for r in rows])[o])
    err = np.hypot(pos["x"] - tx, pos["y"] - ty)
    assert np.median(err) < 2.5  # held-out track, calibrated on two others
    assert (pos["u"] > 0).all()


def test_locate_interval_option(calibration: Path, tmp_path: Path) -> None:
    readings, _ = write_track(tmp_path, "straight_04", seconds=20)
    out = tmp_path / "positions.csv"
    args = ["locate", "--floorplan", str(FLOORPLAN), "--readings", str(readings),
            "--calibration", str(calibration), "--interval", "0.5", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    pos = read_positions(out)
    assert np.diff(pos["t"]) == pytest.approx(np.full(len(pos["t"]) - 1, 0.5))


def test_bad_rows_are_rejected_by_line_and_the_rest_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readings, _ = write_track(tmp_path, "straight_04", seconds=15)
    lines = readings.read_text().splitlines()
    t5 = lines[5].split(",")[0]
    lines[3] = lines[3].rsplit(",", 2)[0] + ",xyz," + lines[3].rsplit(",", 1)[1]  # unknown reader
    lines[8] = lines[8].rsplit(",", 1)[0] + ",42"  # positive RSSI
    lines[12] = "nan," + lines[12].split(",", 1)[1]  # not a finite time
    lines[20] = f"{float(t5) - 10:.6f}," + lines[20].split(",", 1)[1]  # 10 s late
    lines[25] = "oops"  # wrong field count
    readings.write_text("\n".join(lines) + "\n")
    out = tmp_path / "positions.csv"
    code = main(["locate", "--floorplan", str(FLOORPLAN), "--readings", str(readings),
                 "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0
    assert "rejected 5 rows" in err
    assert "line 4: unknown reader 'xyz' (known: " in err
    assert "line 9: rssi 42 outside -127..0 dBm" in err
    assert "line 13: " in err and "line 21: " in err and "line 26: 1 fields" in err
    assert "badge-7" not in err  # no student ids in logs
    assert len(read_positions(out)["t"]) >= 10


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty; expected the header line 't,tag,reader,rssi'"),
        ("time,tag,reader,rssi\n1,a,b,-50\n", "expected 't,tag,reader,rssi'"),
    ],
)
def test_wrong_header_or_empty_file_exits_2_naming_file_and_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    readings = tmp_path / "readings.csv"
    readings.write_text(content)
    code = main(["locate", "--floorplan", str(FLOORPLAN), "--readings", str(readings),
                 "--out", str(tmp_path / "p.csv")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert str(readings) in err and message in err
    assert not (tmp_path / "p.csv").exists()


def test_bad_calibration_file_is_a_clear_error(tmp_path: Path, capsys) -> None:
    readings, _ = write_track(tmp_path, "straight_04", seconds=5)
    cal = tmp_path / "cal.toml"
    args = ["locate", "--floorplan", str(FLOORPLAN), "--readings", str(readings),
            "--calibration", str(cal), "--out", str(tmp_path / "p.csv")]  # fmt: skip
    head = '[calibration]\nformat = "sts-calibration"\n'
    glob = "[calibration.global]\nrssi_1m = -60\nexponent = 2\nsigma_db = 5\n"
    for body, needle in (
        (head + glob + '[readers."zzz"]\nrssi_1m = -60\n', "readers.zzz"),
        (head + '[readers."zzz"]\nrssi_1m = -60\n', "global must be a table"),
        (head + glob.replace("-60", "60"), "out of range"),
        ("calibration = [", "not valid TOML"),
        ('[calibration]\nformat = "other"\n', "sts-calibration"),
    ):
        cal.write_text(body)
        assert main(args) == 2
        err = capsys.readouterr().err
        assert needle in err and str(cal) in err


def test_no_traceback_from_the_command_line(tmp_path: Path) -> None:
    readings = tmp_path / "readings.csv"
    readings.write_text("t,tag,reader\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for args in (
        ["locate", "--floorplan", str(FLOORPLAN), "--readings", str(readings), "--out",
         str(tmp_path / "p.csv")],
        ["locate", "--floorplan", str(FLOORPLAN), "--readings", str(tmp_path / "missing.csv"),
         "--out", str(tmp_path / "p.csv")],
        ["calibrate", "--floorplan", str(FLOORPLAN), "--readings", str(readings), "--truth",
         str(readings), "--out", str(tmp_path / "c.toml")],
    ):  # fmt: skip
        proc = subprocess.run(
            [sys.executable, "-m", "sts", *args], capture_output=True, text=True, env=env,
            cwd=ROOT, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert proc.stderr.startswith("sts: ")
