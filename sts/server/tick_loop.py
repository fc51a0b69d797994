"""The live tick: every `tick_s` of wall time, the readings that arrived go to the hub.

Time in the engine is the readings' own time (epoch seconds from the gateways). When
no reading has come for `idle_s`, the Locator's last windows are flushed, its tracks
dropped, and the engine advanced to the data clock plus the wall time since the last
reading, so silent badges go stale and lost; readings older than that point are then
late (counted).

Each tick is one transaction: the tick's alerts, events and records, and the mark of
the last journaled frame it processed, commit together; only then is anything sent.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from dataclasses import dataclass

import numpy as np

from engine.engine import EngineOutput
from engine.zone_state import BatchRejectedError
from store import ingest_journal
from store.db import transaction
from sts.hub import Hub
from sts.server.feed import Feed
from sts.server.ingest import IngestDesk, TickInput
from sts.server.metrics import Metrics

log = logging.getLogger("sts.serve.tick")


@dataclass
class DataClock:
    """The engine's time as the server sees it: data time, extrapolated by the wall clock."""

    tolerance_s: float
    last_wall: float | None = None  # wall time of the last tick with readings
    advanced_to: float = -math.inf  # the last time the engine was advanced to

    def now(self, engine_clock: float, wall: float) -> float:
        """The data clock moved on by the wall time since readings last arrived."""
        if self.last_wall is None or not math.isfinite(engine_clock):
            return wall
        return max(engine_clock + (wall - self.last_wall), self.advanced_to)

    def floor(self, engine_clock: float) -> float:
        """Readings older than this are late."""
        return max(engine_clock - self.tolerance_s, self.advanced_to)


class TickLoop:
    """Runs one tick at a time (see the module docstring)."""

    def __init__(
        self,
        *,
        hub: Hub,
        feed: Feed,
        desk: IngestDesk,
        conn: sqlite3.Connection,
        metrics: Metrics,
        idle_s: float,
    ) -> None:
        self.hub = hub
        self.feed = feed
        self.desk = desk
        self.conn = conn
        self.metrics = metrics
        self.idle_s = idle_s
        engine = hub.engine
        tolerance = min(engine.hysteresis.tolerance_s, engine.locator.config.late_tolerance)
        self.clock = DataClock(tolerance)
        self.flushed = True
        self.last_tick_wall = 0.0

    def now(self, wall: float | None = None) -> float:
        """The engine time a command given now happens at."""
        return self.clock.now(self.hub.engine.clock, time.time() if wall is None else wall)

    def tick(self) -> int:
        """One tick: readings (or the passing of time) in, messages stored, then sent."""
        started = time.perf_counter()
        wall = self.last_tick_wall = time.time()
        engine = self.hub.engine
        tick_input = self.desk.take(self.clock.floor(engine.clock))
        if tick_input is not None and tick_input.arrived_at:
            self.metrics.arrival_to_engine.observe(max(0.0, wall - tick_input.arrived_at))
        try:
            with transaction(self.conn):
                out = self._run(tick_input, wall)
                if tick_input is not None:
                    ingest_journal.mark_processed(self.conn, tick_input.journal_id)
        except BatchRejectedError as exc:
            self.feed.discard()
            self.metrics.frames_rejected.labels("engine", "batch_rejected").inc()
            log.warning("a tick's batch was rejected by the engine: %s", exc)
            if tick_input is not None:
                with transaction(self.conn):
                    ingest_journal.mark_processed(self.conn, tick_input.journal_id)
            out = None
        sent = self.feed.publish(tick_input.arrived_at if tick_input is not None else 0.0)
        if out is not None:
            for reason, n in out.rejected.items():
                if n:
                    self.metrics.engine_rejected.labels(reason).inc(n)
        self.metrics.tick_seconds.observe(time.perf_counter() - started)
        if tick_input is not None and tick_input.arrived_at:
            self.metrics.latency.observe(max(0.0, time.time() - tick_input.arrived_at))
        return sent

    def _run(self, tick_input: TickInput | None, wall: float) -> EngineOutput | None:
        engine = self.hub.engine
        if tick_input is not None and len(tick_input.batch):
            self.clock.last_wall = wall
            self.flushed = False
            return self.hub.readings(tick_input.batch, tick_input.tag_ids)
        if self.clock.last_wall is None or wall - self.clock.last_wall < self.idle_s:
            return None
        if not self.flushed:
            self.flushed = True
            self.hub.flush()
            # The Locator keeps the last readings for their windows: a reading after the
            # gap would complete a window at a time the engine has moved past. Tracks
            # start afresh after a silence of the whole site.
            engine.locator.forget(np.arange(len(engine.gate)))
        t = self.clock.now(engine.clock, wall)
        self.clock.advanced_to = t
        return self.hub.advance(t)
