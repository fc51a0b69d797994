"""The `sts` command line: one sub-command module per job, errors without tracebacks."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import warnings
from collections.abc import Iterator, Sequence

import numpy as np

from geometry.errors import StsError
from sts.compile_notice import compile_notice
from sts.interrupts import handle_interrupts

#: Modules that each define `register(subparsers)`; the order is the order in `sts --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "sts.commands.floorplan",
    "sts.commands.zones",
    "sts.commands.demo",
    "sts.commands.calibrate",
    "sts.commands.accuracy",
    "sts.commands.locate",
    "sts.commands.track",
    "sts.commands.attendance",
    "sts.commands.rollcall",
    "sts.commands.serve",
    "sts.commands.tokens",
    "sts.commands.consent",
    "sts.commands.audit",
    "sts.commands.retention",
    "sts.commands.keys",
    "sts.commands.student",
    "sts.commands.history",
    "sts.commands.privacy",
    "sts.commands.feedback",
    "sts.commands.tail",
    "sts.commands.simulate",
    "sts.commands.replay",
    "sts.commands.evaluate",
    "sts.commands.drill",
    "sts.commands.loadtest",
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
        with (
            handle_interrupts(),
            quiet_numeric_warnings(),
            compile_notice(sys.stderr, args.command),
        ):
            code: int = args.run(args)
    except StsError as exc:
        print(f"sts: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        # Missing or unreadable files are the user's to fix: say which and how, no traceback.
        print(f"sts: {os_error_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sts: interrupted; no output was written or replaced", file=sys.stderr)
        return 130
    return code


def os_error_message(exc: OSError) -> str:
    """What went wrong with a path, and the fix."""
    where = f"{exc.filename}: " if exc.filename else ""
    fixes = {
        FileNotFoundError: "no such file or folder. Fix: check the path",
        IsADirectoryError: "is a folder. Fix: give a file inside it",
        NotADirectoryError: "a part of the path is a file, not a folder. Fix: check the path",
        PermissionError: "permission denied. Fix: check the file's permissions",
    }
    for kind, text in fixes.items():
        if isinstance(exc, kind):
            return where + text
    return f"{where}{exc.strerror or exc}. Fix: check the path and the disk"


@contextlib.contextmanager
def quiet_numeric_warnings() -> Iterator[None]:
    """numpy's and shapely's runtime warnings stay off the terminal (the messages are ours)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
