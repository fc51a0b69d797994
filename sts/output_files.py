"""Output files that appear whole or not at all, and never over an input.

`replace_on_success(target, inputs=...)` writes to a temporary file beside the target
(same folder, so the final rename is atomic), flushes it to disk and renames it over the
target only when the block finishes; on any error or Ctrl-C the temporary file is
removed and the previous target, if any, is left as it was. A half-written output never
carries the target's name, so an interrupted run cannot look complete.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from geometry.errors import InputError


def refuse_same_file(output: Path, inputs: Iterable[Path | None]) -> None:
    """InputError when `output` is one of the `inputs` (the same file by any name)."""
    out = Path(output)
    for given in inputs:
        if given is None:
            continue
        source = Path(given)
        same = (
            os.path.samefile(out, source)
            if out.exists() and source.exists()
            else out.resolve() == source.resolve()
        )
        if same:
            raise InputError(
                f"{out}: the output is the input file {source}; writing it would destroy the "
                "input before it is read. Fix: write the output to another path"
            )


@contextlib.contextmanager
def replace_on_success(target: Path, *, inputs: Iterable[Path | None] = ()) -> Iterator[BinaryIO]:
    """A binary file to write; it becomes `target` only if the block ends without error.

    Example:
        >>> with replace_on_success(Path(tmp) / "out.csv") as fh:  # doctest: +SKIP
        ...     fh.write(b"t,tag\\n")
    """
    target = Path(target)
    refuse_same_file(target, inputs)
    folder = target.parent
    if not folder.is_dir():
        raise InputError(
            f"{target}: the folder {folder} does not exist. Fix: create it, or write elsewhere"
        )
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _mode_for(target))
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(folder)


def write_replacing(
    target: Path, content: str | bytes, *, inputs: Iterable[Path | None] = ()
) -> None:
    """Write a whole output (text as UTF-8) through `replace_on_success`."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    with replace_on_success(target, inputs=inputs) as handle:
        handle.write(data)


def _mode_for(target: Path) -> int:
    """The permissions the output gets: the target's if it exists, else as `open` would."""
    with contextlib.suppress(FileNotFoundError):
        return os.stat(target).st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _sync_folder(folder: Path) -> None:
    """Flush the rename to disk where the system allows opening a folder."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
