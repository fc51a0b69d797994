"""Zone lookup side by side, in one run, on the same points.

    .venv/bin/python benchmarks/zone_lookup_side_by_side.py [--points 1000000]

On the Northfield campus (floorplans/northfield; a synthetic stand-in if it is missing)
and the same N points (default 1,000,000, like students: see `random_points`):

1. STS `ZoneIndex.query` on one core (`parallel=False`: the serial kernel on the calling
   thread) and on all cores (parallel kernel), membership only (`distances=False`) and
   with the distance to each zone's boundary.
2. shapely 2: one `STRtree` per level, `STRtree.query(points, predicate="intersects")`,
   timed with and without making the Point array (`shapely.points`), and the like-for-
   like variant that also computes each hit's distance to the boundary.
3. A per-point loop: `rtree` intersection, then shapely `intersects_xy` and the boundary
   distance per candidate. Run on a subsample and extrapolated to N (said in the output).

It checks that STS and shapely find the same (point, zone) pairs, then prints points/s
and ratios (each the best of --repeats rounds in which the methods take turns), and the
flatness table: STS throughput on synthetic campuses of 100 to
20,000 zones (same point recipe), next to shapely's and next to what one random read
from an array the size of each campus's membership grid costs on this machine, and
the membership query pass by pass on each campus.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
import numpy.typing as npt
import shapely
from rtree import index as rtree_index

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from synthetic_campus import campus, northfield, random_points

from geometry import pip_kernel
from geometry.model import Zone
from geometry.zone_index import ZoneIndex

Points = tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.float64]]


def best_of(
    fn: Callable[[], object], repeats: int, clock: Callable[[], float] = time.thread_time
) -> float:
    """Smallest time of `repeats` calls, seconds.

    One-thread figures use the CPU time of this thread (`time.thread_time`): on a shared
    machine, other processes then do not count against either side (they can still
    share the caches). Multi-thread figures must use wall time (`time.perf_counter`).
    """
    best = float("inf")
    for _ in range(repeats):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best


class ShapelyLookup:
    """The best pure-library composition: one STRtree per level, bulk query."""

    def __init__(self, level_ids: tuple[str, ...], zones: list[Zone]) -> None:
        """Trees and boundaries per level code."""
        self.polys: dict[int, npt.NDArray[np.object_]] = {}
        self.ids: dict[int, list[str]] = {}
        for code, lid in enumerate(level_ids):
            on = [z for z in zones if z.level == lid]
            self.polys[code] = np.array([z.polygon for z in on], dtype=object)
            self.ids[code] = [z.id for z in on]
        self.trees = {c: shapely.STRtree(p) for c, p in self.polys.items()}
        self.bounds = {c: shapely.boundary(p) for c, p in self.polys.items()}

    def split(
        self, pts: Points
    ) -> dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]]]:
        """Point indexes and shapely Points per level (made once, outside the query timing)."""
        level, x, y = pts
        out = {}
        for code in self.trees:
            idx = np.flatnonzero(level == code)
            out[code] = (idx, shapely.points(x[idx], y[idx]))
        return out

    def query(self, pts: Points, with_points: bool, with_distance: bool, made=None) -> list:
        """(point, zone) pairs per level; optionally making the Points and the distances."""
        level, x, y = pts
        res = []
        for code, tree in self.trees.items():
            if with_points:
                idx = np.flatnonzero(level == code)
                geoms = shapely.points(x[idx], y[idx])
            else:
                idx, geoms = made[code]
            pi, zi = tree.query(geoms, predicate="intersects")
            if with_distance:
                d = shapely.distance(self.bounds[code][zi], geoms[pi])
                res.append((idx[pi], zi, d))
            else:
                res.append((idx[pi], zi))
        return res


def per_point_trees(level_ids: tuple[str, ...], zones: list[Zone]) -> tuple[list, list]:
    """One rtree per level over the zones' bounds, and the polygons (setup, not timed)."""
    trees = []
    polys = []
    for lid in level_ids:
        on = [z.polygon for z in zones if z.level == lid]
        tree = rtree_index.Index()
        for k, p in enumerate(on):
            tree.insert(k, p.bounds)
        trees.append(tree)
        polys.append(on)
    return trees, polys


def per_point_loop(trees: list, polys: list, pts: Points) -> int:
    """rtree + shapely, one point at a time (the naive service); returns the hit count."""
    level, x, y = pts
    hits = 0
    for i in range(len(x)):
        lv = int(level[i])
        px, py = float(x[i]), float(y[i])
        for k in trees[lv].intersection((px, py, px, py)):
            poly = polys[lv][k]
            if shapely.intersects_xy(poly, px, py):
                shapely.distance(poly.boundary, shapely.Point(px, py))
                hits += 1
    return hits


def sts_pairs(index: ZoneIndex, pts: Points) -> set[tuple[int, str]]:
    """(point, zone id) pairs found by STS."""
    hits = index.query(*pts)
    p = hits.point()
    return {(int(i), index.zone_id(int(z))) for i, z in zip(p, hits.zone, strict=True)}


def shapely_pairs(look: ShapelyLookup, pts: Points) -> set[tuple[int, str]]:
    """(point, zone id) pairs found by shapely."""
    out = set()
    for code, (pi, zi) in zip(look.trees, look.query(pts, True, False), strict=True):
        out |= {(int(i), look.ids[code][int(z)]) for i, z in zip(pi, zi, strict=True)}
    return out


def interleaved(
    fns: dict[str, Callable[[], object]],
    rounds: int,
    clock: Callable[[], float] = time.thread_time,
) -> dict[str, float]:
    """Smallest time of each callable over `rounds` rounds, the callables taking turns.

    This is a VM whose host runs other guests: a burst of their load can slow every
    repeat of one measurement taken back to back, and thread CPU time cannot see it
    (the guest does not know its core was taken). Taking turns spreads each method's
    repeats over the whole run, so a burst hits all methods alike.
    """
    for fn in fns.values():
        fn()  # compile, fault the pages in
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for key, fn in fns.items():
            t0 = clock()
            fn()
            best[key] = min(best[key], clock() - t0)
    return best


def sts_calls(index: ZoneIndex, pts: Points, parallel: bool) -> dict[str, Callable[[], object]]:
    """The two STS queries (membership only, and with distances) as timed callables."""
    return {
        "members": lambda: index.query(*pts, parallel=parallel, distances=False),
        "distances": lambda: index.query(*pts, parallel=parallel),
    }


@numba.njit(cache=True)
def _chase(nxt: npt.NDArray[np.int64], steps: int) -> int:
    """Follow `steps` links of a random cycle: each load waits for the one before."""
    j = 0
    for _ in range(steps):
        j = nxt[j]
    return j


def memory_latency() -> list[tuple[int, float]]:
    """ns per dependent load at working sets of 1 to 64 MiB: where the caches end."""
    rng = np.random.default_rng(0)
    out = []
    steps = 2_000_000
    for mb in (1, 2, 4, 8, 16, 64):
        m = mb * 2**20 // 8
        perm = rng.permutation(m)
        nxt = np.empty(m, np.int64)
        nxt[perm] = np.roll(perm, -1)
        _chase(nxt, 1000)
        t = best_of(lambda nxt=nxt: _chase(nxt, steps), 3)
        out.append((mb, t / steps * 1e9))
    return out


@numba.njit(cache=True)
def _gather(table: npt.NDArray[np.uint16], at: npt.NDArray[np.int64]) -> int:
    """Sum table[at[i]]: independent loads, as many in flight as the core allows."""
    total = 0
    for i in range(at.shape[0]):
        total += table[at[i]]
    return total


def random_read_ns(nbytes: int, n: int = 1_000_000) -> float:
    """ns per independent random 2-byte read from an array of `nbytes` bytes.

    The floor of the membership lookup's pass 1, which reads one fine cell per point
    at a random place of a grid this large: past the caches, a core can only have so
    many misses in flight, and each read costs this much however well it is prefetched.
    """
    table = np.ones(max(nbytes // 2, 1), np.uint16)
    at = np.random.default_rng(0).integers(0, table.shape[0], n)
    return best_of(lambda: _gather(table, at), 5) / n * 1e9


def pass_times(index: ZoneIndex, pts: Points, rounds: int) -> tuple[float, float, float, float]:
    """The membership query pass by pass, one core: (pass 1 ns, pass 2 ns, pass 2 ns with
    every word made inline, share of mixed points), best thread CPU time of `rounds`.

    Times the two passes `pip_kernel.query_members` runs, on one chunk: pass 1 finds
    each point's fine cell and word; pass 2 writes the zones, and runs the crossing
    tests of the mixed points (those whose word is not inline). The third figure is
    pass 2 without those tests: what decoding and writing cost alone.
    """
    g = index._compiled()
    level, x, y = pts
    bounds = pip_kernel.chunk_bounds(len(x), 1)
    word, room = pip_kernel.member_words(level, x, y, g, bounds)
    inline = np.where(word & pip_kernel.INLINE_BIT, word, pip_kernel.INLINE_BIT)
    t = interleaved(
        {
            "pass 1": lambda: pip_kernel.member_words(level, x, y, g, bounds),
            "pass 2": lambda: pip_kernel.member_zones(x, y, word, bounds, room, g),
            "inline": lambda: pip_kernel.member_zones(x, y, inline, bounds, room, g),
        },
        rounds,
    )
    mixed = float(np.mean((word & pip_kernel.INLINE_BIT) == 0))
    n = len(x)
    return t["pass 1"] / n * 1e9, t["pass 2"] / n * 1e9, t["inline"] / n * 1e9, mixed


def main() -> int:
    """Run every measurement and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=9, help="rounds of the interleaved timings")
    ap.add_argument("--loop-sample", type=int, default=20_000)
    ap.add_argument("--sizes", default="100,1000,5000,20000")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    print(f"# zone lookup side by side  ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    print(
        f"machine: {platform.processor() or platform.machine()}, {cores} cores; "
        f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; "
        f"numba {numba.__version__}, shapely {shapely.__version__}, numpy {np.__version__}"
    )

    name, level_ids, zones = northfield()
    pts = random_points(zones, args.points, seed=1, levels=level_ids)
    n = args.points
    ZoneIndex(level_ids, zones).query(pts[0][:1], pts[1][:1], pts[2][:1])  # load the kernels
    t0 = time.perf_counter()
    index = ZoneIndex(level_ids, zones)
    index.query(pts[0][:1], pts[1][:1], pts[2][:1])
    build = time.perf_counter() - t0
    stats = index.stats()
    look = ShapelyLookup(level_ids, zones)

    # the same answer first: every (point, zone) pair on a 200k subsample
    sub = tuple(a[:200_000] for a in pts)
    ours, theirs = sts_pairs(index, sub), shapely_pairs(look, sub)
    agree = "identical" if ours == theirs else f"DIFFER in {len(ours ^ theirs)} pairs"

    made = look.split(pts)
    one_thread = sts_calls(index, pts, parallel=False)
    one_thread["shapely prebuilt"] = lambda: look.query(pts, False, False, made)
    one_thread["shapely points"] = lambda: look.query(pts, True, False)
    one_thread["shapely distance"] = lambda: look.query(pts, True, True)
    t1 = interleaved(one_thread, args.repeats)
    numba.set_num_threads(cores)
    tn = interleaved(sts_calls(index, pts, parallel=True), args.repeats, time.perf_counter)
    one, many = n / t1["distances"], n / tn["distances"]
    m_one, m_many = n / t1["members"], n / tn["members"]
    q_only, q_pts, q_dist = (
        n / t1[k] for k in ("shapely prebuilt", "shapely points", "shapely distance")
    )
    members = index.query(*pts, distances=False)
    m = min(args.loop_sample, n)
    trees, polys = per_point_trees(level_ids, zones)
    loop_s = best_of(lambda: per_point_loop(trees, polys, tuple(a[:m] for a in pts)), 1)
    loop = m / loop_s
    hits = index.query(*pts)
    same = np.array_equal(members.offsets, hits.offsets) and np.array_equal(members.zone, hits.zone)

    print(f"\n## {name}: {len(zones)} zones on {len(level_ids)} levels, {n:,} points")
    print(
        f"hits per point {len(hits.zone) / n:.2f}; grid build {build * 1e3:.0f} ms, "
        f"{stats['bytes'] / 1e6:.2f} MB; (point, zone) pairs of STS and shapely on 200k "
        f"points: {agree}; membership-only query gives the same zones on all {n:,} points: {same}"
    )
    rows = [
        ("STS ZoneIndex.query, 1 core (zones + distances)", one),
        (f"STS ZoneIndex.query, {cores} cores (zones + distances)", many),
        ("shapely STRtree.query(predicate='intersects'), Points made beforehand", q_only),
        ("shapely shapely.points + STRtree.query (from x, y arrays)", q_pts),
        ("shapely points + STRtree.query + distance to boundary (same output as STS)", q_dist),
        (f"per-point rtree + shapely loop (+ distance), {m:,}-point subsample, extrapolated", loop),
    ]
    print(
        "\none-thread rows: best CPU time of this thread; "
        f"{cores}-core row: best wall time (other load on the machine lowers it)"
    )
    print(f"\n| method | points/s | STS 1 core is x faster | STS {cores} cores is x faster |")
    print("|---|---:|---:|---:|")
    for label, rate in rows:
        print(f"| {label} | {rate / 1e6:,.2f} M | {one / rate:,.1f} | {many / rate:,.1f} |")

    print("\n### membership only (no distances), like for like")
    print(f"\n| method | points/s | STS 1 core is x faster | STS {cores} cores is x faster |")
    print("|---|---:|---:|---:|")
    for label, rate in (
        ("STS ZoneIndex.query(distances=False), 1 core", m_one),
        (f"STS ZoneIndex.query(distances=False), {cores} cores", m_many),
        ("shapely STRtree.query(predicate='intersects'), Points made beforehand", q_only),
        ("shapely shapely.points + STRtree.query (from x, y arrays)", q_pts),
    ):
        print(f"| {label} | {rate / 1e6:,.2f} M | {m_one / rate:,.1f} | {m_many / rate:,.1f} |")

    print(f"\n## flatness: synthetic campuses, same point recipe, {n:,} points")
    print(
        "\n'spread': the recipe's points over the whole campus; 'local': the same recipe "
        "near the campus's first 128 zones only (same index, same work per point, only the "
        "memory the points touch shrinks: the gap between the two is the memory hierarchy's)"
    )
    print(
        "\n| zones | cell m | index MB | build ms | hits/pt | members spread | members local "
        f"| members spread {cores} cores | + distances spread | + distances local "
        "| shapely points+query | members / shapely | fine grid MB | random read ns |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    passes = []
    for size in (int(s) for s in args.sizes.split(",") if s):
        lv, zs = campus(size)
        p = random_points(zs, n, seed=2, levels=lv)
        near = random_points(zs[:128], n, seed=2, levels=lv)
        t0 = time.perf_counter()
        idx = ZoneIndex(lv, zs)
        idx.query(p[0][:1], p[1][:1], p[2][:1])
        b = time.perf_counter() - t0
        sh = ShapelyLookup(lv, zs)
        calls = sts_calls(idx, p, parallel=False)
        calls |= {f"{k} local": f for k, f in sts_calls(idx, near, parallel=False).items()}
        calls["shapely points"] = lambda sh=sh, p=p: sh.query(p, True, False)
        rate = {k: n / v for k, v in interleaved(calls, args.repeats).items()}
        mmany = (
            n
            / interleaved(
                {"m": lambda idx=idx, p=p: idx.query(*p, distances=False, parallel=True)},
                args.repeats,
                time.perf_counter,
            )["m"]
        )
        h = idx.query(*p)
        grid = idx._compiled()
        cell = 1.0 / float(grid.inv[0])
        print(
            f"| {len(zs):,} | {cell:.2f} | {idx.stats()['bytes'] / 1e6:.1f} | {b * 1e3:.0f} | "
            f"{len(h.zone) / n:.2f} | {rate['members'] / 1e6:.1f} M/s | "
            f"{rate['members local'] / 1e6:.1f} M/s | {mmany / 1e6:.1f} M/s | "
            f"{rate['distances'] / 1e6:.1f} M/s | {rate['distances local'] / 1e6:.1f} M/s | "
            f"{rate['shapely points'] / 1e6:.2f} M/s | "
            f"{rate['members'] / rate['shapely points']:.0f}x | {grid.fine.nbytes / 1e6:.1f} | "
            f"{random_read_ns(grid.fine.nbytes):.1f} |"
        )
        passes.append((len(zs), *pass_times(idx, p, args.repeats)))
    print(
        "\n'random read ns': one independent random read from an array the size of that "
        "campus's fine grid (the membership lookup reads one fine cell per point): the "
        "floor of its pass 1; the same read from a 1 MiB array takes "
        f"{random_read_ns(2**20):.1f} ns"
    )
    print(
        "\nmembership pass by pass, spread points, one core (ns per point): pass 1 finds "
        "each point's fine cell and word; pass 2 writes the zones and runs the crossing "
        "tests of the mixed points; 'pass 2 inline' is pass 2 with every word made inline "
        "(no crossing tests: decoding and writing alone)"
    )
    print("\n| zones | pass 1 | pass 2 | pass 2 inline | mixed points |")
    print("|---:|---:|---:|---:|---:|")
    for zones_n, p1, p2, p2i, mixed in passes:
        print(f"| {zones_n:,} | {p1:.1f} | {p2:.1f} | {p2i:.1f} | {mixed:.1%} |")
    print("\nmemory: dependent-load latency by working set (a random pointer chase)")
    for mb, ns in memory_latency():
        print(f"  {mb:>4} MiB: {ns:.0f} ns")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
