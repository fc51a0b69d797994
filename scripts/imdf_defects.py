"""Measure the digitising defects of an IMDF archive (or any floorplan) in the local frame.

Usage: .venv/bin/python scripts/imdf_defects.py PATH [PATH ...]

For each plan: zone count, vertex counts, smallest zone, invalid rings, unclosed rings and
repeated consecutive vertices, and, for every pair of zones on one level whose boundaries
come within 5 cm: the overlap area and mean width (2 * area / perimeter), the gap, and how
far the vertices of one lie from the other's boundary (vertex mismatch). These figures
set the tolerances of geometry/validation.py (docs/floorplan-format.md, "Tolerances").
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import shapely

from sts.floorplan_io import read_floorplan

NEAR_M = 0.05


def _width(g: shapely.Geometry) -> float:
    """Mean width 2A/P of an area."""
    return 2.0 * g.area / g.length if g.length > 0 else 0.0


def measure(path: str) -> None:
    """Print the defect figures of one plan."""
    fp, problems, source = read_floorplan(path)
    zones = [z for z in fp.zones if z.properties.get("imdf_feature_type") is None]
    print(f"== {source}: {len(zones)} zones (units), {len(fp.levels)} levels")
    for p in problems:
        print(f"   parse: {p}")
    counts = np.array([len(shapely.get_coordinates(z.polygon)) for z in zones])
    areas = np.array([z.polygon.area for z in zones])
    print(
        f"   vertices per zone: median {np.median(counts):.0f}, max {counts.max()}; "
        f"area m2: min {areas.min():.2f}, median {np.median(areas):.1f}, max {areas.max():.0f}"
    )
    invalid = [z.id for z in zones if not z.polygon.is_valid]
    repeats = 0
    for z in zones:
        c = shapely.get_coordinates(z.polygon.exterior)
        repeats += int((np.abs(np.diff(c, axis=0)).sum(axis=1) == 0).sum())
    print(f"   invalid rings: {len(invalid)}; repeated consecutive vertices: {repeats}")
    overlaps: list[tuple[float, float]] = []
    gaps: list[float] = []
    mismatch: list[float] = []
    for level in fp.levels:
        group = [z for z in zones if z.level == level.id]
        if len(group) < 2:
            continue
        geoms = np.array([z.polygon for z in group], dtype=object)
        tree = shapely.STRtree(geoms)
        left, right = tree.query(geoms, predicate="dwithin", distance=NEAR_M)
        for i, j in zip(left.tolist(), right.tolist(), strict=True):
            if i >= j:
                continue
            a, b = group[i].polygon, group[j].polygon
            inter = a.intersection(b)
            if inter.area > 0:
                overlaps.append((inter.area, _width(inter)))
            else:
                gaps.append(a.distance(b))
            for v in shapely.get_coordinates(a.exterior):
                d = b.exterior.distance(shapely.Point(v))
                if 0 < d < NEAR_M:
                    mismatch.append(d)
    print(f"   neighbour pairs within {NEAR_M * 100:.0f} cm: {len(overlaps) + len(gaps)}")
    if overlaps:
        ov = np.array(overlaps)
        print(
            f"   overlapping pairs: {len(ov)}; area m2 max {ov[:, 0].max():.6f}, "
            f"mean width m max {ov[:, 1].max():.6f}, median {np.median(ov[:, 1]):.6f}"
        )
    else:
        print("   overlapping pairs: 0")
    g = np.array(gaps)
    if len(g):
        print(f"   touching/gap pairs: {len(g)}; gap m max {g.max():.6f}, >0: {(g > 0).sum()}")
    if mismatch:
        m = np.array(mismatch)
        print(
            f"   vertices off a neighbour's wall (0 < d < 5 cm): {len(m)}; "
            f"median {np.median(m) * 1000:.3f} mm, max {m.max() * 1000:.3f} mm"
        )
    else:
        print("   vertices off a neighbour's wall (0 < d < 5 cm): 0")


def main(argv: list[str]) -> int:
    """Measure every plan named on the command line."""
    if not argv:
        print(__doc__)
        return 2
    for path in argv:
        if not Path(path).exists():
            print(f"{path}: no such file or folder", file=sys.stderr)
            return 2
        measure(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
