"""One line on the terminal before numba compiles a command's kernels for the first time.

numba compiles a kernel on its first call and keeps the machine code in its on-disk
cache (`cache=True` on every kernel), so a new user's first command spends seconds
compiling, and every later one loads the cache in a fraction of that. Only the kernels a
command calls are compiled: numba compiles lazily, per kernel and per argument types.

The notice listens to numba's "numba:compile" event, which fires only when numba really
compiles (a cache miss), never when it loads from the cache: so a warm run says nothing
and costs nothing, and a cold one says it once, before the first compilation starts,
whichever kernel that is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from numba.core import event

#: Seconds of compiling a cold cache costs a command, measured on a 2-core AMD EPYC VM
#: (benchmarks/RESULTS.md, "Engine at live shapes"); the notice rounds them. A command
#: not listed is given the largest (the whole engine's kernels).
COLD_COMPILE_S: dict[str, float] = {"locate": 10.0, "track": 30.0, "demo": 30.0}
DEFAULT_COLD_COMPILE_S = max(COLD_COMPILE_S.values())


def notice_text(seconds: float) -> str:
    """The line the user sees before the first compilation."""
    return f"sts: compiling numba kernels for first use (about {seconds:.0f} s, once)"


class CompileNotice(event.Listener):
    """Writes the notice to `stream` at the first compilation it hears of, once."""

    def __init__(self, stream: TextIO, seconds: float) -> None:
        self.stream = stream
        self.seconds = seconds
        self.said = False

    def on_start(self, ev: event.Event) -> None:
        """A compilation starts: say so, the first time."""
        if not self.said:
            self.said = True
            print(notice_text(self.seconds), file=self.stream, flush=True)

    def on_end(self, ev: event.Event) -> None:
        """A compilation ended: nothing more to say."""


@contextmanager
def compile_notice(stream: TextIO, command: str | None = None) -> Iterator[CompileNotice]:
    """While inside, announce the first numba compilation on `stream` (the estimate is
    the command's, from COLD_COMPILE_S)."""
    seconds = COLD_COMPILE_S.get(command or "", DEFAULT_COLD_COMPILE_S)
    listener = CompileNotice(stream, seconds)
    with event.install_listener("numba:compile", listener):
        yield listener
