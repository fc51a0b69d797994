"""Ctrl-C that ends a command cleanly: never inside a kernel, always between chunks.

`cli.main` installs `handle_interrupts`: a SIGINT outside a critical section raises
KeyboardInterrupt at once, as usual; inside one (an Engine call, a kernel over a chunk)
it is held and raised when the section ends, so numba work is never torn down halfway
and no half-processed chunk reaches an output. A second Ctrl-C inside the same section
is held too: sections are short (one tick, one chunk).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_depth = 0  # critical sections entered and not yet left
_pending = False  # a SIGINT arrived inside one


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    global _pending
    if _depth > 0:
        _pending = True
        return
    raise KeyboardInterrupt


@contextmanager
def critical() -> Iterator[None]:
    """A section a Ctrl-C may not cut; the interrupt is raised when it ends."""
    global _depth, _pending
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
    if _depth == 0 and _pending:
        _pending = False
        raise KeyboardInterrupt


@contextmanager
def handle_interrupts() -> Iterator[None]:
    """Install the SIGINT handler for the duration (main thread only; else a no-op)."""
    try:
        previous = signal.signal(signal.SIGINT, _on_sigint)
    except ValueError:  # not the main thread: leave Python's default in place
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
