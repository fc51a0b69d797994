"""Command-line options shared by the commands that run a scenario or read a recording."""

from __future__ import annotations

import argparse
from pathlib import Path

from simulator.scenario import Scenario, load_scenario
from sts.simulation import Calibration


def add_overrides(p: argparse.ArgumentParser) -> None:
    """`--students`, `--duration` and `--seed`, shared by the commands that run a scenario."""
    p.add_argument("--students", type=int, help="number of students (overrides the scenario)")
    p.add_argument("--duration", type=float, metavar="S", help="seconds to simulate (overrides)")
    p.add_argument("--seed", type=int, help="random seed (overrides the scenario)")


def scenario_from(args: argparse.Namespace) -> Scenario:
    """The scenario file with the command line's overrides applied."""
    return load_scenario(args.scenario).with_overrides(
        students=args.students, duration_s=args.duration, seed=args.seed
    )


def add_source(p: argparse.ArgumentParser) -> None:
    """DIR and `--campus`, shared by the commands that read a recording."""
    p.add_argument("dir", type=Path, help="folder written by sts simulate (or a recording folder)")
    p.add_argument(
        "--campus", type=Path, help="campus folder (default: the one the recording names)"
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--calibration",
        type=Path,
        metavar="CAL.toml",
        help="path-loss calibration from `sts calibrate` (default: the campus's calibration.toml)",
    )
    which.add_argument(
        "--no-calibration",
        action="store_true",
        help="ignore the campus's calibration.toml: the plan's nominal reader model",
    )


def calibration_from(args: argparse.Namespace) -> Calibration:
    """The calibration `--calibration` / `--no-calibration` chose."""
    return Calibration(path=args.calibration, off=args.no_calibration)
