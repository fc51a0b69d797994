"""Readings for the server tests: students walking into Northfield's boiler room, one by one.

Student i waits in corridor B, walks into the boiler room (a restricted zone: a
critical alert) at `t0 + first_s + i * gap_s`, and stays there. Readings come from the
plain radio of simulator/scripted_walks.py, time-sorted, cut into frames of one second.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from engine.batches import ReadingBatch
from geometry.model import Floorplan
from simulator.scripted_walks import Leg, RadioModel, hear, plan_walk, sample_truth

#: Monday 2026-11-30, 08:30 UTC, as epoch seconds.
T0 = 1_796_027_400.0


@dataclass(frozen=True, slots=True)
class Scenario:
    """The readings and the tags whose entries raise alerts, in order."""

    readings: ReadingBatch
    tags: tuple[str, ...]
    reader_ids: tuple[str, ...]
    t0: float
    t1: float

    def frames(self, seconds: float = 1.0) -> Iterator[tuple[float, list[list[object]]]]:
        """(start time, rows [t, tag, reader, rssi]) per `seconds` of data time."""
        r = self.readings
        edges = np.arange(self.t0, self.t1 + seconds, seconds)
        cuts = np.searchsorted(r.t, edges)
        for start, a, b in zip(edges[:-1], cuts[:-1], cuts[1:], strict=True):
            rows = [
                [float(r.t[i]), self.tags[r.tag[i]], self.reader_ids[r.reader[i]], float(r.rssi[i])]
                for i in range(a, b)
            ]
            yield float(start), rows


def boiler_room(
    floorplan: Floorplan,
    tags: tuple[str, ...],
    *,
    first_s: float = 20.0,
    gap_s: float = 20.0,
    tail_s: float = 40.0,
    seed: int = 7,
) -> Scenario:
    """Each tag enters the boiler room in turn (see the module docstring)."""
    walks = []
    for i, tag in enumerate(tags):
        legs = [Leg(T0, ("L0-corridor-b",)), Leg(T0 + first_s + i * gap_s, ("L0-boiler-room",))]
        walks.append(plan_walk(floorplan, tag, legs))
    t1 = T0 + first_s + len(tags) * gap_s + tail_s
    level_ids = [lv.id for lv in floorplan.levels]
    truth = sample_truth(walks, level_ids, T0, t1, 1.0)
    readings = hear(truth, floorplan, RadioModel(), seed)
    reader_ids = tuple(r.id for r in floorplan.readers)
    return Scenario(readings, tags, reader_ids, T0, t1)
