"""`--data DIR`: the one folder where everything kept about students lives.

Every command that reads or writes student data takes it, with the same default: the
STS_DATA environment variable when set, else ./var. An operator then has one folder to
back up, encrypt and erase (docs/privacy.md).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def default_data() -> Path:
    """$STS_DATA, or ./var."""
    return Path(os.environ.get("STS_DATA") or "var")


def add_data_option(p: argparse.ArgumentParser, purpose: str = "data folder") -> None:
    """Add `--data DIR`; `purpose` says what the command uses the folder for."""
    p.add_argument(
        "--data",
        type=Path,
        default=default_data(),
        help=f"{purpose} ($STS_DATA, else ./var)",
    )
