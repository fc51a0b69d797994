"""`sts evaluate` and `sts replay` take the campus's calibration, another one, or none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.scenario import load_scenario
from sts.cli import main
from sts.simulation import Calibration, prepare, simulate
from sts.site import SiteFiles

ROOT = Path(__file__).resolve().parents[2]
NORTHFIELD = ROOT / "floorplans" / "northfield"
SCENARIO = """version = 1
name = "calibration test"
campus = "{campus}"
date = 2026-11-30
start = "09:20"
duration_min = 2
seed = 11
[population]
students = 8
staff = 0
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sim")
    path = folder / "s.toml"
    path.write_text(SCENARIO.format(campus=NORTHFIELD), encoding="utf-8")
    simulate(prepare(load_scenario(path)), folder / "run")
    return folder / "run"


def test_the_choice_names_the_campus_file_another_or_none(tmp_path: Path) -> None:
    campus = SiteFiles(NORTHFIELD, calibration=NORTHFIELD / "calibration.toml")
    assert Calibration().files(campus).calibration == NORTHFIELD / "calibration.toml"
    assert Calibration(path=tmp_path / "c.toml").files(campus).calibration == tmp_path / "c.toml"
    assert Calibration(off=True).files(campus).calibration is None


def figures(run: Path, tmp_path: Path, *options: str) -> dict[str, object]:
    out = tmp_path / f"ev{len(options)}.json"
    assert main(["evaluate", str(run), "--json", str(out), *options]) == 0
    doc: dict[str, object] = json.loads(out.read_text(encoding="utf-8"))
    return doc


def test_evaluate_uses_the_campus_calibration_unless_told(run: Path, tmp_path: Path) -> None:
    site = figures(run, tmp_path)
    assert site["calibration"] == str(NORTHFIELD / "calibration.toml")
    none = figures(run, tmp_path, "--no-calibration")
    assert none["calibration"] == ""
    assert none["positioning"] != site["positioning"]
    assert "room_accuracy" in site["zone_state"]  # type: ignore[operator]


def test_a_calibration_file_that_is_not_there_is_refused(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.toml"
    assert main(["replay", str(run), "--calibration", str(missing), "--events-out",
                 str(tmp_path / "e.jsonl")]) == 2  # fmt: skip
    assert str(missing) in capsys.readouterr().err
