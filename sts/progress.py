"""A progress line for long commands: a bar on a terminal, a line per quarter otherwise."""

from __future__ import annotations

from typing import TextIO


class Progress:
    """Progress of `total` units (data seconds, items) on a stream."""

    def __init__(self, total: float, stream: TextIO, label: str) -> None:
        self.total, self.stream, self.label = total, stream, label
        self.tty = stream.isatty()
        self.last = -1  # last percent (terminal) or quarter (pipe) shown

    def update(self, done: float, note: str = "") -> None:
        """Show that `done` of `total` is done."""
        pct = min(100, int(100 * done / self.total)) if self.total else 100
        step = pct if self.tty else pct // 25
        if step == self.last:
            return
        self.last = step
        if self.tty:
            bar = "#" * (pct // 4) + "." * (25 - pct // 4)
            self.stream.write(f"\r{self.label} [{bar}] {pct:3d}% {note}")
        else:
            self.stream.write(f"{self.label}: {pct:3d}% {note}\n")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line on a terminal."""
        if self.tty:
            self.stream.write("\n")
