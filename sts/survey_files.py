"""A survey's files (floorplan, readings.csv, truth.csv) loaded the same way for every command."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from geometry.errors import InputError
from geometry.model import Floorplan
from sts.readings_csv import Readings, Truth, read_readings, read_truth, summarise_problems


@dataclass(frozen=True, slots=True)
class SurveyFiles:
    """The parsed floorplan, readings and truth of a survey."""

    floorplan: Floorplan
    readings: Readings
    truth: Truth


def load_survey(floorplan_path: Path, readings: Path, truth: Path, command: str) -> SurveyFiles:
    """Load the three files; rejected rows are summarised on stderr under `sts COMMAND`."""
    from sts.floorplan_io import load_floorplan

    floorplan = load_floorplan(floorplan_path).floorplan
    if not floorplan.readers:
        raise InputError(f"{floorplan_path}: the floorplan has no readers; add reader features")
    parsed = read_readings(readings, [r.id for r in floorplan.readers])
    known = read_truth(truth, parsed.tag_ids)
    for path, problems in ((readings, parsed.problems), (truth, known.problems)):
        if problems:
            print(f"sts {command}: {summarise_problems(path, problems)}", file=sys.stderr)
    return SurveyFiles(floorplan, parsed, known)
