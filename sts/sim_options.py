"""Command-line options shared by the simulator's commands (simulate, replay, evaluate, drill)."""

from __future__ import annotations

import argparse
from pathlib import Path

from simulator.scenario import Scenario, load_scenario


def add_source(p: argparse.ArgumentParser) -> None:
    """DIR and `--campus`, shared by the commands that read a recording."""
    p.add_argument("dir", type=Path, help="folder written by sts simulate (or a recording folder)")
    p.add_argument(
        "--campus", type=Path, help="campus folder (default: the one the recording names)"
    )


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
