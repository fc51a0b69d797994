"""The hub: drives one Engine tick by tick from any source and hands every output to sinks.

Sources (a file read in chunks, the demo's scripted morning, later a socket, the
simulator or a recording) call `readings`, `positions` or `advance` once per tick;
people's commands (`command`) go through the same place. Every `EngineOutput` is
counted and handed to each sink in order (JSON lines now; the WebSocket feed, the
store and the recorder plug in the same way), so a new source or a new sink is one
module, never another copy of the loop. The hub does no I/O itself; sinks do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.batches import PositionBatch, ReadingBatch
from engine.engine import Engine, EngineOutput
from sts.interrupts import critical
from sts.ticks import Tick


class Sink(Protocol):
    """Where the hub hands outputs: called once per Engine call, in order."""

    def write(self, out: EngineOutput) -> None:
        """Take one output (events, alerts, fixes, counts, change records)."""
        ...

    def close(self) -> None:
        """No more outputs: finish (flush, rename a temporary file, ...)."""
        ...


@dataclass(slots=True)
class HubStats:
    """What went through the hub: rows in, outputs out, rows rejected by reason."""

    ticks: int = 0
    readings: int = 0
    positions_in: int = 0
    fixes: int = 0
    events: int = 0
    alerts: int = 0
    records: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    def take(self, out: EngineOutput) -> None:
        """Count one output."""
        self.fixes += len(out.positions)
        self.events += len(out.events)
        self.alerts += len(out.alerts)
        self.records += len(out.records)
        self.rejected.update({why: n for why, n in out.rejected.items() if n})


#: The Engine commands a shell may give through the hub.
COMMANDS = frozenset(
    {
        "acknowledge",
        "resolve",
        "start_evacuation",
        "mark_safe",
        "end_evacuation",
        "withdraw_consent",
        "grant_consent",
        "add_zone",
        "update_zone",
        "remove_zone",
    }
)


class Hub:
    """One Engine, its sinks and its counters (see the module docstring)."""

    def __init__(self, engine: Engine, sinks: Sequence[Sink] = ()) -> None:
        self.engine = engine
        self.sinks: list[Sink] = list(sinks)
        self.stats = HubStats()

    def add_sink(self, sink: Sink) -> None:
        """Hand every later output to `sink` too."""
        self.sinks.append(sink)

    def _call(self, method: Callable[..., EngineOutput], *args: Any, **kwargs: Any) -> EngineOutput:
        """One Engine call that a Ctrl-C cannot cut, its output to every sink."""
        with critical():
            out = method(*args, **kwargs)
            return self._emit(out)

    def _emit(self, out: EngineOutput) -> EngineOutput:
        self.stats.take(out)
        for sink in self.sinks:
            sink.write(out)
        return out

    def readings(self, batch: ReadingBatch, tag_ids: Sequence[str]) -> EngineOutput:
        """One tick of readings (codes index `tag_ids`)."""
        self.stats.ticks += 1
        self.stats.readings += len(batch)
        return self._call(self.engine.process, batch, tag_ids)

    def positions(self, batch: PositionBatch, tag_ids: Sequence[str]) -> EngineOutput:
        """One tick of fixes (codes index `tag_ids`)."""
        self.stats.ticks += 1
        self.stats.positions_in += len(batch)
        return self._call(self.engine.process_positions, batch, tag_ids)

    def advance(self, t: float) -> EngineOutput:
        """Time passes with no data (stale and lost badges, timed alerts)."""
        return self._call(self.engine.advance, t)

    def flush(self) -> EngineOutput:
        """End of a readings stream: what the Locator still held."""
        return self._call(self.engine.flush)

    def command(self, name: str, *args: Any, **kwargs: Any) -> EngineOutput:
        """A person's or the system's command (one of COMMANDS), output to every sink."""
        if name not in COMMANDS:
            raise ValueError(f"unknown engine command {name!r}; one of {sorted(COMMANDS)}")
        return self._call(getattr(self.engine, name), *args, **kwargs)

    def run_readings(
        self,
        ticks: Iterable[Tick[ReadingBatch]],
        on_tick: Callable[[Tick[ReadingBatch]], None] | None = None,
    ) -> None:
        """Every tick of a readings source, then the flush at its end."""
        for tick in ticks:
            self._count_dropped(tick)
            self.readings(tick.batch, tick.tag_ids)
            if on_tick is not None:
                on_tick(tick)
        self.flush()

    def run_positions(self, ticks: Iterable[Tick[PositionBatch]]) -> None:
        """Every tick of a positions source."""
        for tick in ticks:
            self._count_dropped(tick)
            self.positions(tick.batch, tick.tag_ids)

    def _count_dropped(self, tick: Tick[Any]) -> None:
        if tick.out_of_order:
            self.stats.rejected["out_of_order"] += tick.out_of_order
        if tick.duplicates:
            self.stats.rejected["duplicate"] += tick.duplicates

    def close(self) -> None:
        """Close every sink (each finishes its output)."""
        for sink in self.sinks:
            sink.close()
