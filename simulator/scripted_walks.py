"""Scripted walks and a plain path-loss radio: readings for demos and end-to-end tests.

A walk is a timed polyline per badge (stand still between legs); the radio samples
every badge at a fixed advertising interval and every reader in earshot hears it with
the log-distance path-loss model plus Gaussian noise. Everything is numpy over arrays
(samples x readers), seeded, and pure: no I/O, no wall clock.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.batches import ReadingBatch
from geometry.errors import InputError
from geometry.model import Floorplan, Opening, ZoneKind

FloatArray = npt.NDArray[np.float64]

#: Height of one storey, metres: readers on other floors are this much further away.
STOREY_HEIGHT_M = 3.5


@dataclass(frozen=True, slots=True)
class Leg:
    """At `start_s`, walk to each zone of `zones` in turn (through doors and stairs)."""

    start_s: float
    zones: tuple[str, ...]
    speed_mps: float = 1.2


@dataclass(frozen=True, slots=True)
class Walk:
    """One badge's scripted morning: a polyline of (t, x, y, level) waypoints.

    The badge is on a waypoint's level from that waypoint until the next one.
    """

    tag: str
    t: tuple[float, ...]
    x: tuple[float, ...]
    y: tuple[float, ...]
    levels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RadioModel:
    """The plain radio: advertising interval, noise, reader sensitivity, floor loss."""

    interval_s: float = 1.0
    sigma_db: float = 4.0
    sensitivity_dbm: float = -95.0
    tag_height_m: float = 1.0
    floor_loss_db: float = 18.0


@dataclass(frozen=True, slots=True)
class Truth:
    """Ground truth at each advertisement: t, tag index, level index, x, y."""

    t: FloatArray
    tag: npt.NDArray[np.int32]
    level: npt.NDArray[np.int32]
    x: FloatArray
    y: FloatArray


#: Zones one walks through; containers (a wing, the safe area) hold them but have no doors.
_VERTICAL = frozenset({ZoneKind.STAIRS, ZoneKind.ELEVATOR})


def _links(floorplan: Floorplan) -> dict[str, list[tuple[str, Opening | None]]]:
    """Zone adjacency: doors on a level, and stairs/lifts stacked above each other."""
    links: dict[str, list[tuple[str, Opening | None]]] = {z.id: [] for z in floorplan.zones}
    for opening in floorplan.openings:
        for a, b in itertools.permutations(opening.zones, 2):
            if a in links and b in links:
                links[a].append((b, opening))
    vertical = [z for z in floorplan.zones if z.kind in _VERTICAL]
    for lower, upper in itertools.permutations(vertical, 2):
        if lower.level != upper.level and lower.polygon.intersects(upper.polygon):
            links[lower.id].append((upper.id, None))
    return links


def zone_path(floorplan: Floorplan, start: str, goal: str) -> list[tuple[str, Opening | None]]:
    """The fewest-doors path from one zone to another: (zone, the door used to enter it)."""
    links = _links(floorplan)
    for zone_id in (start, goal):
        if zone_id not in links:
            raise InputError(f"scripted walk: unknown zone {zone_id!r}; use an id of the floorplan")
    came: dict[str, tuple[str, Opening | None]] = {start: (start, None)}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        if here == goal:
            break
        for there, door in links[here]:
            if there not in came:
                came[there] = (here, door)
                queue.append(there)
    if goal not in came:
        raise InputError(
            f"scripted walk: no way from {start!r} to {goal!r} through the plan's openings; "
            "add a door between them"
        )
    path: list[tuple[str, Opening | None]] = []
    node = goal
    while node != start:
        prev, door = came[node]
        path.append((node, door))
        node = prev
    return path[::-1]


def route(floorplan: Floorplan, zones: Sequence[str]) -> list[tuple[float, float, str]]:
    """Points (x, y, level) from the first zone through each next one, via doors and stairs."""
    known = {z.id: z for z in floorplan.zones}
    for zone_id in zones:
        if zone_id not in known:
            raise InputError(f"scripted walk: unknown zone {zone_id!r}; use an id of the floorplan")
    first = known[zones[0]]
    p = first.polygon.representative_point()
    points = [(p.x, p.y, first.level)]
    for a, b in itertools.pairwise(zones):
        for zone_id, door in zone_path(floorplan, a, b):
            zone = known[zone_id]
            if door is not None:
                mid = door.segment.interpolate(0.5, normalized=True)
                points.append((mid.x, mid.y, zone.level))
            target = zone.polygon.representative_point()
            points.append((target.x, target.y, zone.level))
    return points


def plan_walk(floorplan: Floorplan, tag: str, legs: Sequence[Leg], *, wait: bool = False) -> Walk:
    """A badge's walk from timed legs; each leg starts where the previous one ended.

    A leg timed before the previous one ends is an error, or with `wait` starts late.
    """
    ts: list[float] = []
    xs: list[float] = []
    ys: list[float] = []
    lv: list[str] = []
    here: str | None = None
    for leg in legs:
        zones = leg.zones if here is None else (here, *leg.zones)
        pts = route(floorplan, zones)
        t = leg.start_s
        if ts:
            pts[0] = (xs[-1], ys[-1], lv[-1])
            if wait:
                t = max(t, ts[-1])
            elif leg.start_s < ts[-1]:
                raise InputError(
                    f"scripted walk {tag!r}: leg at {leg.start_s} s starts before the previous "
                    f"one ends ({ts[-1]:.0f} s); start it later"
                )
        ts.append(t)
        xs.append(pts[0][0])
        ys.append(pts[0][1])
        lv.append(pts[0][2])
        for (x0, y0, _), (x1, y1, level) in itertools.pairwise(pts):
            # Climbing a storey takes as long as walking 6 m.
            climb = 6.0 if level != lv[-1] else 0.0
            t += (float(np.hypot(x1 - x0, y1 - y0)) + climb) / leg.speed_mps
            ts.append(t)
            xs.append(x1)
            ys.append(y1)
            lv.append(level)
        here = leg.zones[-1]
    return Walk(tag, tuple(ts), tuple(xs), tuple(ys), tuple(lv))


def sample_truth(
    walks: Sequence[Walk], level_ids: Sequence[str], t0: float, t1: float, interval_s: float
) -> Truth:
    """Every badge's true position at each advertisement in [t0, t1), time-ordered."""
    times = np.arange(t0, t1, interval_s)
    levels = {lv: i for i, lv in enumerate(level_ids)}
    n, m = len(walks), len(times)
    # Badges advertise out of phase with each other, as real ones do.
    phase = (np.arange(n) * 0.6180339887 % 1.0) * interval_s
    t = (times[None, :] + phase[:, None]).ravel()
    x = np.empty(n * m)
    y = np.empty(n * m)
    level = np.empty(n * m, dtype=np.int32)
    for i, walk in enumerate(walks):  # a loop per badge, not per sample
        row = slice(i * m, (i + 1) * m)
        x[row] = np.interp(t[row], walk.t, walk.x)
        y[row] = np.interp(t[row], walk.t, walk.y)
        codes = np.array([levels[lv] for lv in walk.levels], dtype=np.int32)
        seg = np.clip(np.searchsorted(walk.t, t[row], side="right") - 1, 0, len(codes) - 1)
        level[row] = codes[seg]
    tag = np.repeat(np.arange(n, dtype=np.int32), m)
    order = np.argsort(t, kind="stable")
    return Truth(t[order], tag[order], level[order], x[order], y[order])


def hear(
    truth: Truth,
    floorplan: Floorplan,
    model: RadioModel,
    seed: int,
    chunk: int = 20_000,
) -> ReadingBatch:
    """Readings of every advertisement by every reader in earshot (reader index = file order)."""
    ordinal = np.array([lv.ordinal for lv in floorplan.levels], dtype=np.float64)
    level_index = {lv.id: i for i, lv in enumerate(floorplan.levels)}
    rd = floorplan.readers
    rx = np.array([r.x for r in rd])
    ry = np.array([r.y for r in rd])
    rz = np.array([r.z + STOREY_HEIGHT_M * ordinal[level_index[r.level]] for r in rd])
    rlev = np.array([ordinal[level_index[r.level]] for r in rd])
    p0 = np.array([r.calibration.rssi_1m for r in rd])
    ex = np.array([r.calibration.exponent for r in rd])
    rng = np.random.default_rng(seed)
    parts: list[ReadingBatch] = []
    for start in range(0, len(truth.t), chunk):
        sl = slice(start, start + chunk)
        tl = ordinal[truth.level[sl]]
        tz = model.tag_height_m + STOREY_HEIGHT_M * tl
        d = np.sqrt(
            (truth.x[sl, None] - rx[None, :]) ** 2
            + (truth.y[sl, None] - ry[None, :]) ** 2
            + (tz[:, None] - rz[None, :]) ** 2
        )
        rssi = p0[None, :] - 10.0 * ex[None, :] * np.log10(np.maximum(d, 0.1))
        rssi -= model.floor_loss_db * np.abs(tl[:, None] - rlev[None, :])
        rssi += rng.normal(0.0, model.sigma_db, rssi.shape)
        heard = rssi >= model.sensitivity_dbm
        rows, cols = np.nonzero(heard)
        parts.append(
            ReadingBatch.from_arrays(
                truth.t[sl][rows],
                truth.tag[sl][rows],
                cols,
                np.clip(np.round(rssi[rows, cols]), -127, 0),
            )
        )
    if not parts:
        return ReadingBatch.empty()
    return ReadingBatch.from_arrays(
        np.concatenate([p.t for p in parts]),
        np.concatenate([p.tag for p in parts]),
        np.concatenate([p.reader for p in parts]),
        np.concatenate([p.rssi for p in parts]),
    )
