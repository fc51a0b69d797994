"""Scripted walks and a plain path-loss radio: readings for demos and end-to-end tests.

A walk is a timed polyline per badge (stand still between legs); the radio samples
every badge at a fixed advertising interval and every reader in earshot hears it with
the log-distance path-loss model plus Gaussian noise. Everything is numpy over arrays
(samples x readers), seeded, and pure: no I/O, no wall clock.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from shapely.geometry import Point

from engine.batches import ReadingBatch
from geometry.errors import InputError
from geometry.model import Floorplan, Opening

FloatArray = npt.NDArray[np.float64]

#: Height of one storey, metres: readers on other floors are this much further away.
STOREY_HEIGHT_M = 3.5


@dataclass(frozen=True, slots=True)
class Leg:
    """Start walking at `start_s` through `zones` (ids, in order) at `speed_mps`."""

    start_s: float
    zones: tuple[str, ...]
    speed_mps: float = 1.2


@dataclass(frozen=True, slots=True)
class Walk:
    """One badge's scripted morning: a level and a polyline of (t, x, y) waypoints."""

    tag: str
    level: str
    t: tuple[float, ...]
    x: tuple[float, ...]
    y: tuple[float, ...]


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


def _opening_between(floorplan: Floorplan, a: str, b: str) -> Opening | None:
    for opening in floorplan.openings:
        if a in opening.zones and b in opening.zones:
            return opening
    return None


def route(floorplan: Floorplan, zones: Sequence[str]) -> list[tuple[float, float]]:
    """Points from the first zone to the last, through the doors that join them."""
    known = {z.id: z for z in floorplan.zones}
    for zone_id in zones:
        if zone_id not in known:
            raise InputError(f"scripted walk: unknown zone {zone_id!r}; use an id of the floorplan")
    first = known[zones[0]].polygon.representative_point()
    points = [(first.x, first.y)]
    for a, b in itertools.pairwise(zones):
        opening = _opening_between(floorplan, a, b)
        if opening is not None:
            mid = opening.segment.interpolate(0.5, normalized=True)
            points.append((mid.x, mid.y))
        target: Point = known[b].polygon.representative_point()
        points.append((target.x, target.y))
    return points


def plan_walk(floorplan: Floorplan, tag: str, level: str, legs: Sequence[Leg]) -> Walk:
    """A badge's walk from timed legs; each leg starts where the previous one ended."""
    ts: list[float] = []
    xs: list[float] = []
    ys: list[float] = []
    for leg in legs:
        pts = route(floorplan, leg.zones)
        if xs:
            pts[0] = (xs[-1], ys[-1])
            if leg.start_s < ts[-1]:
                raise InputError(
                    f"scripted walk {tag!r}: leg at {leg.start_s} s starts before the previous "
                    f"one ends ({ts[-1]:.0f} s); start it later"
                )
        t = leg.start_s
        ts.append(t)
        xs.append(pts[0][0])
        ys.append(pts[0][1])
        for (x0, y0), (x1, y1) in itertools.pairwise(pts):
            t += float(np.hypot(x1 - x0, y1 - y0)) / leg.speed_mps
            ts.append(t)
            xs.append(x1)
            ys.append(y1)
    return Walk(tag, level, tuple(ts), tuple(xs), tuple(ys))


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
    for i, walk in enumerate(walks):
        row = slice(i * m, (i + 1) * m)
        x[row] = np.interp(t[row], walk.t, walk.x)
        y[row] = np.interp(t[row], walk.t, walk.y)
    tag = np.repeat(np.arange(n, dtype=np.int32), m)
    level = np.repeat(np.array([levels[w.level] for w in walks], dtype=np.int32), m)
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
