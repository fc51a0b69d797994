"""Zone lookup side by side, in one run, on the same points.

    .venv/bin/python benchmarks/zone_lookup_side_by_side.py [--points 1000000] [--sizes ...]

1. The size of the zone lookup: `wc -l` of its modules (target: at most 900 lines).
2. Northfield (floorplans/northfield; a synthetic stand-in if it is missing), N points
   like students' (`synthetic_campus.random_points`): STS `ZoneIndex.query` with the
   distance to each zone's boundary (what the engine asks) on one core, against shapely
   2 giving the same output (one `STRtree` per level, `shapely.points`,
   `STRtree.query(predicate="intersects")`, `shapely.distance` to the boundary); the
   output is checked equal on every point (same pairs, distances within 1e-9 m). Also
   membership only (`distances=False`, what `sts zones` asks) against shapely's query.
3. The cost of one call at live batch sizes (the engine queries a tick's fixes: a few
   dozen to a few thousand), serial against parallel, with the other core idle and then
   busy (a `while True: pass` process pinned to the last core, killed at the end):
   what `ZoneIndexSettings.parallel_from_points` is chosen from.
4. Flatness: synthetic campuses of --sizes zones, the same point recipe, one core.

One-core rows are the best *thread CPU time* of --repeats rounds in which the methods
take turns (on a shared VM a burst of other load then hits every method alike, and
thread CPU time does not count other processes); per-call rows are wall time.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numba
import numpy as np
import numpy.typing as npt
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from synthetic_campus import campus, northfield, random_points

from geometry.model import Zone
from geometry.zone_index import ZoneHits, ZoneIndex

ROOT = Path(__file__).resolve().parent.parent
Points = tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.float64]]
MODULES = ("geometry/zone_index.py", "geometry/zone_grid.py", "geometry/pip_kernel.py")
LIVE_SIZES = (1, 40, 400, 4_000, 10_000, 20_000, 100_000)


class ShapelyLookup:
    """The best pure-library composition: one STRtree per level, bulk query."""

    def __init__(self, level_ids: tuple[str, ...], zones: list[Zone]) -> None:
        """Trees and boundaries per level code; `numbers` maps to ZoneIndex numbers."""
        self.trees, self.bounds, self.numbers = [], [], []
        for lid in level_ids:
            on = [k for k, z in enumerate(zones) if z.level == lid]
            polys = np.array([zones[k].polygon for k in on], dtype=object)
            self.trees.append(shapely.STRtree(polys))
            self.bounds.append(shapely.boundary(polys))
            self.numbers.append(np.array(on, np.int64))

    def query(self, pts: Points, with_distance: bool) -> tuple[np.ndarray, ...]:
        """(point, zone number[, distance]) of every hit, from x, y arrays."""
        level, x, y = pts
        parts = []
        for code, tree in enumerate(self.trees):
            idx = np.flatnonzero(level == code)
            geoms = shapely.points(x[idx], y[idx])
            pi, zi = tree.query(geoms, predicate="intersects")
            hit = [idx[pi], self.numbers[code][zi]]
            if with_distance:
                hit.append(shapely.distance(self.bounds[code][zi], geoms[pi]))
            parts.append(hit)
        return tuple(np.concatenate(col) for col in zip(*parts, strict=True))


def same_output(hits: ZoneHits, theirs: tuple[np.ndarray, ...]) -> str:
    """Whether STS and shapely found the same (point, zone) pairs and distances."""
    ours = np.lexsort((hits.zone, hits.point()))
    order = np.lexsort((theirs[1], theirs[0]))
    pairs = np.array_equal(hits.point()[ours], theirs[0][order]) and np.array_equal(
        hits.zone[ours], theirs[1][order]
    )
    if not pairs:
        return "DIFFERENT pairs"
    worst = float(np.abs(hits.distance[ours] - theirs[2][order]).max(initial=0.0))
    return f"same pairs, distances within {worst:.1e} m" + ("" if worst <= 1e-9 else " (> 1e-9!)")


def interleaved(
    fns: dict[str, Callable[[], object]], rounds: int, clock: Callable[[], float] = time.thread_time
) -> dict[str, float]:
    """Smallest time of each callable over `rounds` rounds, the callables taking turns."""
    for fn in fns.values():
        fn()  # compile, fault the pages in
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for key, fn in fns.items():
            t0 = clock()
            fn()
            best[key] = min(best[key], clock() - t0)
    return best


def code_size() -> None:
    """wc -l of the zone lookup modules."""
    out = subprocess.run(["wc", "-l", *MODULES], cwd=ROOT, capture_output=True, text=True)
    print("\n## size of the zone lookup (target: at most 900 lines)\n")
    print("```\n" + out.stdout.rstrip() + "\n```")


def side_by_side(n: int, repeats: int) -> None:
    """Northfield: STS against shapely, one core, the same output."""
    name, level_ids, zones = northfield()
    pts = random_points(zones, n, seed=1, levels=level_ids)
    t0 = time.perf_counter()
    index = ZoneIndex(level_ids, zones)
    index.query(*(a[:1] for a in pts))
    build = time.perf_counter() - t0
    look = ShapelyLookup(level_ids, zones)
    check = same_output(index.query(*pts), look.query(pts, True))
    t = interleaved(
        {
            "sts": lambda: index.query(*pts, parallel=False),
            "sts members": lambda: index.query(*pts, parallel=False, distances=False),
            "shapely": lambda: look.query(pts, True),
            "shapely members": lambda: look.query(pts, False),
        },
        repeats,
    )
    grid = index._compiled()
    cells = ", ".join(f"{1 / v:.2f}" for v in grid.inv_cell)
    print(f"\n## {name}: {len(zones)} zones on {len(level_ids)} levels, {n:,} points, one core")
    print(
        f"\ngrid cells {cells} m, {sum(a.nbytes for a in grid) / 1e6:.2f} "
        f"MB, built in {build * 1e3:.0f} ms; {len(grid.stream):,} stream values; "
        f"STS against shapely: {check}\n"
    )
    print("| query | STS points/s | shapely points/s | STS is x faster |")
    print("|---|---:|---:|---:|")
    for label, ours, theirs in (
        ("zones + boundary distances (the engine's)", "sts", "shapely"),
        ("membership only (`distances=False`, `sts zones`)", "sts members", "shapely members"),
    ):
        a, b = n / t[ours], n / t[theirs]
        print(f"| {label} | {a / 1e6:.1f} M | {b / 1e6:.2f} M | {a / b:.1f} |")


def per_call(index: ZoneIndex, pts: Points, calls: int) -> dict[tuple[int, str], np.ndarray]:
    """Wall time of single calls (seconds) per (batch size, call): the query on the
    calling thread and on every thread, and `signed_distance` (the engine's other call)."""
    out = {}
    for size in LIVE_SIZES:
        level, x, y = (a[:size] for a in pts)
        zone = index.query(level, x, y).zone[:1].repeat(size)
        run = {
            "serial": partial(index.query, level, x, y, parallel=False),
            "parallel": partial(index.query, level, x, y, parallel=True),
            "signed": partial(index.signed_distance, zone, x, y),
        }
        for name, fn in run.items():
            fn()
            times = np.empty(max(20, calls * 40 // max(size, 40)))
            for k in range(len(times)):
                t0 = time.perf_counter()
                fn()
                times[k] = time.perf_counter() - t0
            out[size, name] = times
    return out


def live_batches(calls: int) -> None:
    """Per-call cost at live batch sizes, serial and parallel, other core idle and busy."""
    _, level_ids, zones = northfield()
    index = ZoneIndex(level_ids, zones)
    pts = random_points(zones, max(LIVE_SIZES), seed=3, levels=level_ids)
    idle = per_call(index, pts, calls)
    busy_core = (os.cpu_count() or 1) - 1
    loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        os.sched_setaffinity(loop.pid, {busy_core})
        time.sleep(0.5)
        busy = per_call(index, pts, calls)
    finally:
        loop.kill()
        loop.wait()
    print(
        f"\n## one call at live batch sizes (Northfield, wall time, median and p99; "
        f"{numba.get_num_threads()} numba threads, threading layer "
        f"{numba.threading_layer()}; 'busy': a busy loop pinned to core {busy_core})\n"
    )
    names = ("serial", "parallel", "signed")
    heads = [
        f"{n} {w}"
        for w in ("idle", "busy")
        for n in ("query serial", "query parallel", "signed_distance")
    ]
    print("| points | " + " | ".join(heads) + " |")
    print("|---:" * (len(heads) + 1) + "|")
    for size in LIVE_SIZES:
        cells = []
        for runs in (idle, busy):
            for name in names:
                t = runs[size, name] * 1e6
                cells.append(f"{np.median(t):,.0f} us ({np.percentile(t, 99):,.0f})")
        print(f"| {size:,} | " + " | ".join(cells) + " |")


def flatness(sizes: list[int], n: int, repeats: int) -> None:
    """Synthetic campuses: one-core throughput and index size by zone count."""
    print(f"\n## flatness: synthetic campuses, {n:,} points spread over each, one core\n")
    print("| zones | cell m | index MB | build ms | + distances | members | shapely + distance |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        level_ids, zones = campus(size)
        pts = random_points(zones, n, seed=2, levels=level_ids)
        t0 = time.perf_counter()
        index = ZoneIndex(level_ids, zones)
        index.query(*(a[:1] for a in pts))
        build = time.perf_counter() - t0
        look = ShapelyLookup(level_ids, zones)
        t = interleaved(
            {
                "sts": lambda index=index, pts=pts: index.query(*pts, parallel=False),
                "members": lambda index=index, pts=pts: index.query(
                    *pts, parallel=False, distances=False
                ),
                "shapely": lambda look=look, pts=pts: look.query(pts, True),
            },
            repeats,
        )
        grid = index._compiled()
        print(
            f"| {len(zones):,} | {1 / grid.inv_cell[0]:.2f} | "
            f"{sum(a.nbytes for a in grid) / 1e6:.1f} | {build * 1e3:.0f} | "
            f"{n / t['sts'] / 1e6:.1f} M/s | {n / t['members'] / 1e6:.1f} M/s | "
            f"{n / t['shapely'] / 1e6:.2f} M/s |"
        )


def main() -> int:
    """Run every measurement and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=7, help="rounds of the interleaved timings")
    ap.add_argument("--calls", type=int, default=500, help="calls per live batch size (40 points)")
    ap.add_argument("--sizes", default="100,1000,5000,20000")
    args = ap.parse_args()
    load = os.getloadavg()
    print(f"# zone lookup side by side  ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"load average {load[0]:.2f} {load[1]:.2f}; numba {numba.__version__}, "
        f"shapely {shapely.__version__}, numpy {np.__version__}"
    )
    code_size()
    side_by_side(args.points, args.repeats)
    live_batches(args.calls)
    flatness([int(s) for s in args.sizes.split(",") if s], args.points, args.repeats)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
