"""The `sts` command line: one sub-command module per job, errors without tracebacks."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from geometry.errors import StsError

#: Modules that each define `register(subparsers)`; the order is the order in `sts --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "sts.commands.floorplan",
    "sts.commands.zones",
    "sts.commands.demo",
    "sts.commands.calibrate",
    "sts.commands.locate",
    "sts.commands.track",
    "sts.commands.attendance",
    "sts.commands.rollcall",
    "sts.commands.simulate",
    "sts.commands.replay",
    "sts.commands.evaluate",
    "sts.commands.drill",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="sts", description="STS: real-time geofencing for school Student Tracking Systems"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; STS errors print as one clear message and exit non-zero."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except StsError as exc:
        print(f"sts: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        # Missing or unreadable files are the user's to fix: say which, no traceback.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"sts: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sts: interrupted", file=sys.stderr)
        return 130
    return code
