"""Simulated surveys of the tetam room with walkers who turn and badges of unlike gains.

Neither real data set has a wearer who turns (the body between badge and reader changes
with the heading) or a badge that reads hotter or weaker than the surveyed one. This
script makes such surveys with the simulator's radio (`simulator.radio.hear_step`: the
tetam-fitted path loss, 6 dB of body loss toward readers behind the wearer, packet loss)
in the tetam room (floorplans/tetam, 12 readers), as readings.csv + truth.csv for
`sts calibrate` and `sts accuracy`:

    .venv/bin/python benchmarks/turning_tracks.py OUT --seed 1 --gains 0
    .venv/bin/python benchmarks/turning_tracks.py OUT --seed 2 --gains 0,8,-8,16

Tetam-like: the badges advertise every 0.5 s and walkers walk at 0.3-0.9 m/s, as in the
real tracks (23 readings/s from 12 readers; median speeds 0.13-0.89 m/s per track); both
can be changed (--interval, --speed). Each walker goes from one random point of the free
floor to the next in a straight line, and at each point stops for 2-6 s and turns on the
spot, so the heading changes both with the path and standing still. `--gains` lists the
badges' gain offsets in dB; walker i wears a badge of gain gains[i % len(gains)] (a
device offset moves every reading of that badge, before the reader's sensitivity cut: a
weak badge is also heard by fewer readers). The same arguments give the same files.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.radio import (  # noqa: E402
    MOTION_COLUMNS,
    RadioParams,
    build_reader_table,
    hear_step,
)
from sts.floorplan_io import load_floorplan  # noqa: E402

STEP_S = 0.5  # one motion segment per walker per step
MARGIN_M = 0.8  # walkers keep this far from the room's outline
CLEARANCE_M = 0.4  # and this far from the furniture


def _next_point(rng: np.random.Generator, free: shapely.Geometry, x: float, y: float):
    """A random point of `free` in straight sight of (x, y) through free space."""
    x0, y0, x1, y1 = free.bounds
    while True:
        tx, ty = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if np.hypot(tx - x, ty - y) > 2.0 and free.contains(shapely.LineString([(x, y), (tx, ty)])):
            return tx, ty


def waypoints(
    rng: np.random.Generator, free: shapely.Geometry, duration: float, speed: tuple[float, float]
):
    """One walker's (t, x, y, heading) every STEP_S seconds for `duration` s, in `free`."""
    x0, y0, x1, y1 = free.bounds
    out: list[tuple[float, float, float, float]] = []
    x, y = x0, y0
    while not free.contains(shapely.Point(x, y)):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
    heading = rng.uniform(-np.pi, np.pi)
    t = 0.0
    while t < duration:
        tx, ty = _next_point(rng, free, x, y)
        pace = rng.uniform(*speed)
        length = float(np.hypot(tx - x, ty - y))
        heading = float(np.arctan2(ty - y, tx - x))
        n = max(1, int(np.ceil(length / pace / STEP_S)))
        for k in range(n):
            f = k / n
            out.append((t, x + (tx - x) * f, y + (ty - y) * f, heading))
            t += STEP_S
        x, y = tx, ty
        # Stop and turn on the spot: to a random heading, at most 90 degrees a second.
        target = heading + rng.uniform(-np.pi, np.pi)
        stand = rng.uniform(2.0, 6.0)
        n = int(stand / STEP_S)
        for k in range(n):
            f = min(1.0, (k + 1) * STEP_S * (np.pi / 2) / max(abs(target - heading), 1e-9))
            out.append((t, x, y, heading + (target - heading) * f))
            t += STEP_S
        heading = target
    return np.array([row for row in out if row[0] < duration])


@dataclass(frozen=True, slots=True)
class Walkers:
    """Who walks: how many, for how long (s), how fast (m/s), their badges' gains (dB)
    and advertising interval (s)."""

    count: int = 8
    duration_s: float = 180.0
    speed_mps: tuple[float, float] = (0.3, 0.9)
    gains_db: tuple[float, ...] = (0.0,)
    interval_s: float = 0.5


DEFAULTS = Walkers()


def badge_gain(walker: int, gains_db: tuple[float, ...]) -> float:
    """The gain of walker number `walker`'s badge (`--gains` in turn), dB."""
    return gains_db[walker % len(gains_db)]


def simulate(out: Path, seed: int, walkers: Walkers) -> None:
    """Write out/readings.csv and out/truth.csv."""
    floorplan = load_floorplan(ROOT / "floorplans" / "tetam").floorplan
    ids = [r.id for r in floorplan.readers]
    furniture = [z for z in floorplan.zones if z.properties.get("walkable") is False]
    floor = floorplan.zone("tetam-floor").polygon
    free = floor.buffer(-MARGIN_M)
    for z in furniture:
        free = free.difference(z.polygon.buffer(CLEARANCE_M))
    # Only the largest piece: a pocket between furniture may have no other point in sight.
    free = max(getattr(free, "geoms", [free]), key=lambda g: g.area)
    rng = np.random.default_rng(seed)
    paths = [
        waypoints(rng, free, walkers.duration_s, walkers.speed_mps) for _ in range(walkers.count)
    ]
    # The radio's fit on tetam (RadioParams) holds the furniture's loss in its exponent:
    # to the radio the hall is one room without walls inside, every reader in it.
    hall = replace(floorplan.zone("tetam-floor"), polygon=shapely.box(*floor.bounds).buffer(1.0))
    radio_plan = replace(floorplan, zones=(hall,))
    base = replace(RadioParams(), interval_s=walkers.interval_s)
    phase = rng.uniform(0.0, base.interval_s, walkers.count)
    gains = walkers.gains_db
    rows: list[tuple[float, int, int, float]] = []
    for gain in sorted(set(gains)):
        mine = [i for i in range(walkers.count) if badge_gain(i, gains) == gain]
        table = build_reader_table(radio_plan, replace(base, rssi_1m=base.rssi_1m + gain))
        rows += _hear(table, base, [paths[i] for i in mine], phase[mine], mine, seed)
    rows.sort()
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "readings.csv", "w") as fh:
        fh.write("t,tag,reader,rssi\n")
        for t, walker, reader, rssi in rows:
            fh.write(f"{t:.3f},walker-{walker},{ids[reader]},{rssi:g}\n")
    with open(out / "truth.csv", "w") as fh:
        fh.write("t,tag,x,y\n")
        for walker, path in enumerate(paths):
            for t, x, y, _ in path:
                fh.write(f"{t:.3f},walker-{walker},{x:.3f},{y:.3f}\n")


def _hear(table, params: RadioParams, paths, phase: npt.NDArray[np.float64], names, seed: int):
    """Readings of some walkers, all wearing badges of the table's gain."""
    n = len(paths)
    rows: list[tuple[float, int, int, float]] = []
    if n == 0:
        return rows
    steps = min(len(p) for p in paths) - 1
    previous = np.zeros((n, MOTION_COLUMNS))
    for s in range(steps):
        current = np.zeros((n, MOTION_COLUMNS))
        for i, p in enumerate(paths):
            current[i] = (p[s, 0], p[s + 1, 0], p[s, 1], p[s, 2], p[s + 1, 1], p[s + 1, 2],
                          p[s, 3], 0)  # fmt: skip
        heard = hear_step(
            table,
            params,
            (current, previous if s else current),
            (np.ones(n, bool), phase),
            (paths[0][s, 0], paths[0][s + 1, 0]),
            np.ones(table.readers.shape[0], bool),
            seed * 1_000_003 + s * 101 + names[0],
        )
        rows += [
            (float(t), names[b], int(r), float(v))
            for t, b, r, v in zip(heard.t, heard.badge, heard.reader, heard.rssi, strict=True)
        ]
        previous = current
    return rows


def main() -> int:
    """Parse the arguments and write the survey."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--gains", default="0", help="badge gain offsets, dB, comma-separated")
    p.add_argument("--walkers", type=int, default=DEFAULTS.count)
    p.add_argument("--duration", type=float, default=DEFAULTS.duration_s, help="s per walker")
    p.add_argument("--speed", default="0.3,0.9", help="walking speed range, m/s")
    p.add_argument("--interval", type=float, default=DEFAULTS.interval_s, help="advertising, s")
    args = p.parse_args()
    low, high = (float(v) for v in args.speed.split(","))
    walkers = Walkers(
        args.walkers,
        args.duration,
        (low, high),
        tuple(float(g) for g in args.gains.split(",")),
        args.interval,
    )
    simulate(args.out, args.seed, walkers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
