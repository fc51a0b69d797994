"""The one way a command reads a text file: the same checks and messages for every format.

Every file a command reads (CSV, TOML, GeoJSON, JSON lines) is UTF-8, with or without
the byte-order mark spreadsheet programs write. Anything else (UTF-16, Latin-1, binary)
is refused with the byte offset of the first bad byte and the fix; so are a missing
path, a folder where a file belongs, and a file over the size limit of its kind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from geometry.errors import InputError

#: Default size limit of a configuration-like file (TOML, roster, floorplan), bytes.
MAX_CONFIG_BYTES = 64 * 2**20

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def check_input_path(path: Path, what: str) -> Path:
    """The path of an existing regular file, or an InputError that says how to fix it."""
    if not path.exists():
        raise InputError(f"{path}: no such file. Fix: check the path of the {what}")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file. Fix: give the {what} file itself")
    return path


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 text (a BOM is dropped), or an InputError naming the file and the byte."""
    if data.startswith(_UTF16_BOMS):
        raise InputError(
            f"{name}: the file is UTF-16 (byte 0 is a UTF-16 byte-order mark). "
            "Fix: save it as UTF-8 (in a spreadsheet: CSV UTF-8)"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{name}: line {line}: byte {exc.start} (0x{data[exc.start]:02x}) is not UTF-8. "
            "Fix: save the file as UTF-8"
        ) from None


def read_text(path: Path, what: str, *, max_bytes: int = MAX_CONFIG_BYTES) -> str:
    """A whole text file, checked and decoded (see the module docstring)."""
    check_input_path(path, what)
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(
            f"{path}: {size:,} bytes, more than the {max_bytes:,} a {what} may have. "
            "Fix: check that this is the right file"
        )
    return decode_text(path.read_bytes(), str(path))


def parse_json(text: str, name: str) -> Any:
    """Parsed JSON, or an InputError naming the file, line and column (or the nesting)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{name}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}. "
            "Fix: correct the JSON syntax there (a JSON linter shows the exact spot)"
        ) from None
    except RecursionError:
        raise InputError(
            f"{name}: the JSON is nested too deeply to be a valid document. "
            "Fix: check that this is the right file"
        ) from None
