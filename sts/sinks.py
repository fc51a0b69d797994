"""Sinks of the hub that write files or keep outputs in memory.

`JsonLinesSink` writes events, alerts and change records as stable JSON lines
(transports/json_codec.py) to text streams the caller opened; `CollectSink` keeps what
a command prints at its end (the demo's incidents and alerts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO

from engine.engine import EngineOutput
from engine.events import Alert, ZoneEvent
from engine.records import ChangeRecord
from transports.json_codec import encode_alert, encode_event, encode_record


@dataclass(slots=True)
class JsonLinesSink:
    """Events, alerts and change records as JSON lines, each to its own stream (or none)."""

    events: IO[str] | None
    alerts: IO[str] | None = None
    records: IO[str] | None = None

    def write(self, out: EngineOutput) -> None:
        """Append this output's lines."""
        if self.events is not None and out.events:
            self.events.writelines(encode_event(e) + "\n" for e in out.events)
        if self.alerts is not None and out.alerts:
            self.alerts.writelines(encode_alert(a) + "\n" for a in out.alerts)
        if self.records is not None and out.records:
            self.records.writelines(encode_record(r) + "\n" for r in out.records)

    def close(self) -> None:
        """Nothing to do: the caller owns the streams."""


@dataclass(slots=True)
class CollectSink:
    """Every event, alert change and change record, in order, in memory."""

    events: list[ZoneEvent] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    records: list[ChangeRecord] = field(default_factory=list)

    def write(self, out: EngineOutput) -> None:
        """Keep this output's events, alerts and records."""
        self.events.extend(out.events)
        self.alerts.extend(out.alerts)
        self.records.extend(out.records)

    def close(self) -> None:
        """Nothing to do."""
