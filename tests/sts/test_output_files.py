"""Outputs appear whole or not at all: temporary file and rename, never over an input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from geometry.errors import InputError
from sts.output_files import refuse_same_file, replace_on_success

ROOT = Path(__file__).resolve().parents[2]
NORTHFIELD = ROOT / "floorplans" / "northfield"
READINGS = "t,tag,reader,rssi\n" + "".join(
    f"{1000 + i / 4:.2f},badge-1,rd-L0-classroom-1-{1 + i % 2},-{60 + i % 9}\n" for i in range(80)
)


def sts(*args: str, **kw: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "sts", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kw,  # type: ignore[arg-type]
    )


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_the_target_appears_only_when_the_block_ends(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("previous\n")
    with pytest.raises(RuntimeError), replace_on_success(target) as fh:
        fh.write(b"half")
        assert target.read_text() == "previous\n" and len(leftovers(tmp_path)) == 1
        raise RuntimeError("stop")
    assert target.read_text() == "previous\n" and leftovers(tmp_path) == []
    with replace_on_success(target) as fh:
        fh.write(b"whole\n")
    assert target.read_text() == "whole\n" and leftovers(tmp_path) == []


def test_the_same_file_by_another_name_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "readings.csv"
    data.write_text("x\n")
    (tmp_path / "link.csv").symlink_to(data)
    for alias in (data, tmp_path / "link.csv", tmp_path / "sub" / ".." / "readings.csv"):
        with pytest.raises(InputError, match="the output is the input file"):
            refuse_same_file(alias, [None, data])
    refuse_same_file(tmp_path / "other.csv", [data])


@pytest.mark.parametrize("command", ["locate", "zones"])
def test_cli_refuses_output_over_input_and_leaves_it(tmp_path: Path, command: str) -> None:
    data = tmp_path / "in.csv"
    data.write_text(READINGS if command == "locate" else "level,x,y\nL0,1,2\n")
    before = data.read_bytes()
    args = (
        ["locate", "--floorplan", str(NORTHFIELD), "--readings", str(data)]
        if command == "locate"
        else ["zones", str(NORTHFIELD), "--in", str(data)]
    )
    proc = sts(*args, "--out", str(tmp_path / "." / "in.csv"))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert "the output is the input file" in err and "Traceback" not in err
    assert data.read_bytes() == before and leftovers(tmp_path) == []


def test_a_failed_run_leaves_the_previous_output(tmp_path: Path) -> None:
    points, out = tmp_path / "p.csv", tmp_path / "o.csv"
    points.write_text("level,x,y\n" + "L0,1,2\n" * 50 + "L0,one,2\n")
    out.write_text("previous\n")
    proc = sts("zones", str(NORTHFIELD), "--in", str(points), "--out", str(out))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "line 52" in err
    assert out.read_text() == "previous\n" and leftovers(tmp_path) == []
    readings = tmp_path / "r.csv"
    readings.write_text(READINGS + "1100,badge-1,rd-L0-cl")  # cut short
    proc = sts("locate", "--floorplan", str(NORTHFIELD), "--readings", str(readings),
               "--out", str(out))  # fmt: skip
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "line 82: the file ends in the middle of a row" in err
    assert out.read_text() == "previous\n" and leftovers(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe")
@pytest.mark.parametrize("command, out_option", [("locate", "--out"), ("track", "--events-out")])
def test_ctrl_c_leaves_the_previous_output_and_no_temporary_file(
    tmp_path: Path, command: str, out_option: str
) -> None:
    """The readings come through a named pipe that the test keeps open, so the command is
    certainly mid-run (its temporary output open, waiting for rows) when Ctrl-C comes."""
    pipe, out = tmp_path / "readings.csv", tmp_path / "output"
    os.mkfifo(pipe)
    out.write_text("previous\n")
    proc = sts(command, "--floorplan", str(NORTHFIELD), "--readings", str(pipe),
               out_option, str(out))  # fmt: skip
    with open(pipe, "w") as writer:
        writer.write(READINGS + "1100,badge-1,rd-L0-cl")
        writer.flush()
        deadline = time.monotonic() + 120
        while not leftovers(tmp_path) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        assert leftovers(tmp_path), "the command never opened its temporary output"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert out.read_text() == "previous\n" and leftovers(tmp_path) == []
