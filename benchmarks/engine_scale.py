"""Engine at scale: readings -> alerts throughput, zone updates for 100,000 students, memory.

Run: .venv/bin/python benchmarks/engine_scale.py [--students-readings 10000]
     [--students-zones 100000] [--seconds 12]

1. Readings to alerts: `Engine.process` (consent gate, Locator, zone state machine,
   rules) fed one second of data at a time, 10,000 badges of which 90% stand still
   and 10% walk, every reader within earshot (path-loss model, -95 dBm sensitivity).
   Readings generation is not timed.
2. Zone events for 100,000 students: `Engine.process_positions` with one fix per
   student per batch (a second of updates), students walking 1.2 m/s through a campus
   of rooms, corridors and buildings on two levels; after a warm-up second (first fixes).
3. Memory: tracemalloc around building the engine state for 100,000 students (gate,
   zone state, rules state when given) divided by the students; and the zone state
   machine's own arrays (`nbytes`).
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Sequence

import numpy as np
from shapely.geometry import box

from engine.batches import PositionBatch, ReadingBatch
from engine.engine import Engine
from engine.events import Severity
from engine.roster import Consent
from engine.rules import Rule, RulesConfig, RuleSet, RuleType
from geometry.model import Floorplan, Level, Reader, Site, Zone, ZoneKind

ROOM_W, ROOM_D, CORRIDOR = 8.0, 7.0, 3.0


def campus(wings_x: int, wings_y: int, levels: int = 2, readers: bool = True) -> Floorplan:
    """Wings of 2 x 6 rooms around a corridor, per level, inside a campus safe area."""
    zones: list[Zone] = []
    rd: list[Reader] = []
    wing_w, wing_d, gap = 6 * ROOM_W, 2 * ROOM_D + CORRIDOR, 12.0
    width = wings_x * (wing_w + gap) + gap
    height = wings_y * (wing_d + gap) + gap
    level_ids = [f"L{i}" for i in range(levels)]
    for lv in level_ids:
        zones.append(
            Zone(f"{lv}-campus", "Campus", lv, ZoneKind.SAFE_AREA, box(0, 0, width, height))
        )
        for i in range(wings_x):
            for j in range(wings_y):
                ox, oy = gap + i * (wing_w + gap), gap + j * (wing_d + gap)
                w = f"{lv}-w{i}-{j}"
                zones.append(
                    Zone(
                        f"{w}-bldg",
                        "Wing",
                        lv,
                        ZoneKind.BUILDING,
                        box(ox, oy, ox + wing_w, oy + wing_d),
                    )
                )
                zones.append(
                    Zone(
                        f"{w}-hall",
                        "Corridor",
                        lv,
                        ZoneKind.CORRIDOR,
                        box(ox, oy + ROOM_D, ox + wing_w, oy + ROOM_D + CORRIDOR),
                    )
                )
                for side, y0 in (("s", oy), ("n", oy + ROOM_D + CORRIDOR)):
                    for k in range(6):
                        x0 = ox + k * ROOM_W
                        kind = (
                            ZoneKind.RESTRICTED if (k == 5 and side == "n") else ZoneKind.CLASSROOM
                        )
                        zones.append(
                            Zone(
                                f"{w}-{side}{k}",
                                "Room",
                                lv,
                                kind,
                                box(x0, y0, x0 + ROOM_W, y0 + ROOM_D),
                            )
                        )
                if readers:
                    for k in range(0, 7, 2):
                        for yy in (oy, oy + wing_d / 2, oy + wing_d):
                            rd.append(Reader(f"{w}-r{k}-{yy:.0f}", lv, ox + k * ROOM_W, yy))
    levels_t = tuple(Level(lv, i, lv) for i, lv in enumerate(level_ids))
    return Floorplan(Site("bench", "Bench campus"), levels_t, tuple(zones), tuple(rd))


def rules(fp: Floorplan) -> RuleSet:
    """A restricted-zone rule and a dwell limit (no timetable needed)."""
    cfg = RulesConfig(
        rules=(
            Rule(
                "restricted",
                RuleType.RESTRICTED_ZONE,
                Severity.CRITICAL,
                kinds=frozenset({ZoneKind.RESTRICTED}),
            ),
            Rule(
                "corridor-dwell",
                RuleType.DWELL_LIMIT,
                Severity.WARNING,
                kinds=frozenset({ZoneKind.CORRIDOR}),
                after_s=600.0,
            ),
        )
    )
    return RuleSet(cfg, fp)


def rooms_of(fp: Floorplan, level: str = "L0") -> np.ndarray:
    """Bounds of the classrooms of a level, (n, 4)."""
    return np.array(
        [
            z.polygon.bounds
            for z in fp.zones
            if z.level == level and z.kind in (ZoneKind.CLASSROOM, ZoneKind.RESTRICTED)
        ]
    )


def still_and_walking(fp: Floorplan, n: int, seconds: int, seed: int) -> tuple[np.ndarray, ...]:
    """Truth (t, tag, level, x, y) at 1 Hz: 90% sit in a room, 10% walk along corridors."""
    rng = np.random.default_rng(seed)
    rooms = rooms_of(fp)
    pick = rooms[rng.integers(0, len(rooms), n)]
    x0 = rng.uniform(pick[:, 0] + 1, pick[:, 2] - 1)
    y0 = rng.uniform(pick[:, 1] + 1, pick[:, 3] - 1)
    walking = rng.random(n) < 0.1
    heading = rng.uniform(0, 2 * np.pi, n)
    phase = (np.arange(n) * 0.6180339887) % 1.0
    t = (np.arange(seconds)[:, None] + phase[None, :]).ravel()
    steps = np.arange(seconds)[:, None] * walking[None, :] * 1.2
    x = (x0[None, :] + steps * np.cos(heading)[None, :]).ravel()
    y = (y0[None, :] + steps * np.sin(heading)[None, :]).ravel()
    tag = np.tile(np.arange(n, dtype=np.int32), seconds)
    order = np.argsort(t, kind="stable")
    return t[order], tag[order], np.zeros(len(t), np.int32), x[order], y[order]


def hear_all(fp: Floorplan, t, tag, x, y, seed: int, sensitivity: float = -95.0) -> ReadingBatch:
    """Readings by every L0 reader in earshot (log-distance, sigma 4 dB), chunked."""
    rd = [r for r in fp.readers if r.level == "L0"]
    rx = np.array([r.x for r in rd])
    ry = np.array([r.y for r in rd])
    rng = np.random.default_rng(seed)
    parts = []
    for a in range(0, len(t), 20_000):
        sl = slice(a, a + 20_000)
        d = np.sqrt((x[sl, None] - rx) ** 2 + (y[sl, None] - ry) ** 2 + 1.5**2)
        rssi = -59.0 - 20.0 * np.log10(d) + rng.normal(0, 4.0, d.shape)
        rows, cols = np.nonzero(rssi >= sensitivity)
        parts.append((t[sl][rows], tag[sl][rows], cols, np.round(rssi[rows, cols])))
    cat = [np.concatenate([p[i] for p in parts]) for i in range(4)]
    return ReadingBatch.from_arrays(*cat)


def readings_to_alerts(n: int, seconds: int, sensitivity: float) -> dict[str, float]:
    """Throughput of Engine.process (readings -> alerts) in one-second batches."""
    side = max(2, int(np.ceil(np.sqrt(n / 300))))
    fp = campus(side, side)
    t, tag, _, x, y = still_and_walking(fp, n, seconds, seed=1)
    rb = hear_all(fp, t, tag, x, y, seed=2, sensitivity=sensitivity)
    tag_ids = [f"badge-{i:06d}" for i in range(n)]
    roster = [Consent(tg, True) for tg in tag_ids]
    eng = Engine(fp, roster=roster, rules=rules(fp))
    k = np.floor(rb.t).astype(np.int64)
    cuts = np.flatnonzero(np.diff(k)) + 1
    bounds = list(zip(np.r_[0, cuts], np.r_[cuts, len(k)], strict=True))
    # warm-up: numba compilation and the first fixes (not timed)
    warm = 3
    for a, b in bounds[:warm]:
        eng.process(rb.take(np.arange(a, b)), tag_ids)
    timed = bounds[warm:]
    n_read = sum(b - a for a, b in timed)
    n_events = n_alerts = n_pos = 0
    gc.collect()
    t0 = time.perf_counter()
    for a, b in timed:
        out = eng.process(rb.take(np.arange(a, b)), tag_ids)
        n_events += len(out.events)
        n_alerts += len(out.alerts)
        n_pos += len(out.positions)
    dt = time.perf_counter() - t0
    return {
        "students": n,
        "zones": len(fp.zones),
        "readers": len(fp.readers),
        "readings": n_read,
        "readings_per_badge_per_s": n_read / (n * len(timed)),
        "seconds_of_data": len(timed),
        "wall_s": dt,
        "readings_per_s": n_read / dt,
        "positions": n_pos,
        "events": n_events,
        "alerts": n_alerts,
    }


def walkers(fp: Floorplan, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """Start positions anywhere in the wings of both levels, random headings."""
    rng = np.random.default_rng(seed)
    rooms = np.concatenate([rooms_of(fp, lv.id) for lv in fp.levels])
    level = np.repeat(np.arange(len(fp.levels)), len(rooms) // len(fp.levels))
    k = rng.integers(0, len(rooms), n)
    x = rng.uniform(rooms[k, 0], rooms[k, 2])
    y = rng.uniform(rooms[k, 1], rooms[k, 3])
    return level[k].astype(np.int32), x, y, rng.uniform(0, 2 * np.pi, n)


def zone_updates(n: int, repeats: int = 5) -> dict[str, float]:
    """One position update for each of n students through Engine.process_positions."""
    side = max(2, int(np.ceil(np.sqrt(n / 300))))
    fp = campus(side, side, readers=False)
    level, x, y, heading = walkers(fp, n, seed=5)
    tag_ids = [f"badge-{i:06d}" for i in range(n)]
    eng = Engine(fp, roster=[Consent(tg, True) for tg in tag_ids])
    students = np.arange(n, dtype=np.int32)
    u = np.full(n, 1.0)

    def batch(sec: int) -> PositionBatch:
        step = 1.2 * sec
        return PositionBatch.from_arrays(
            np.full(n, float(sec)),
            students,
            level,
            x + step * np.cos(heading),
            y + step * np.sin(heading),
            u,
        )

    eng.process_positions(batch(0), tag_ids)  # first fixes: `inside`/`outside` reports
    times = []
    events = 0
    for sec in range(1, repeats + 1):
        b = batch(sec)
        gc.collect()
        t0 = time.perf_counter()
        out = eng.process_positions(b, tag_ids)
        times.append(time.perf_counter() - t0)
        events += len(out.events)
    best = min(times)
    return {
        "students": n,
        "zones": len(fp.zones),
        "best_s": best,
        "median_s": float(np.median(times)),
        "updates_per_s": n / best,
        "events_per_batch": events / repeats,
    }


def memory(n: int, with_rules: bool) -> dict[str, float]:
    """Bytes of engine state per tracked student (tracemalloc), n students tracked."""
    side = max(2, int(np.ceil(np.sqrt(n / 300))))
    fp = campus(side, side, readers=False)
    level, x, y, heading = walkers(fp, n, seed=9)
    tag_ids = [f"badge-{i:06d}" for i in range(n)]
    roster = [Consent(tg, True) for tg in tag_ids]
    students = np.arange(n, dtype=np.int32)
    batches = [
        PositionBatch.from_arrays(
            np.full(n, float(s)),
            students,
            level,
            x + 1.2 * s * np.cos(heading),
            y + 1.2 * s * np.sin(heading),
            np.full(n, 1.0),
        )
        for s in range(3)
    ]
    # imports and numba compilation happen once per process: do them before measuring
    tiny = Engine(fp, roster=roster[:10], rules=rules(fp) if with_rules else None)
    tiny.process_positions(batches[0].take(np.arange(10)), tag_ids[:10])
    del tiny
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    eng = Engine(fp, roster=roster, rules=rules(fp) if with_rules else None)
    eng.index.query(np.zeros(1, np.int32), np.zeros(1), np.zeros(1))  # compile the grid
    empty, _ = tracemalloc.get_traced_memory()
    for b in batches:
        eng.process_positions(b, tag_ids)
    gc.collect()
    now, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "students": n,
        "zones": len(fp.zones),
        "rules": with_rules,
        "state_bytes_per_student": (now - empty) / n,
        "total_bytes_per_student_incl_floorplan_index": (now - base) / n,
        "zone_state_arrays_per_student": eng.zones.nbytes() / n,
        "peak_mb": peak / 1e6,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Print the three measurements as a small report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students-readings", type=int, default=10_000)
    p.add_argument("--seconds", type=int, default=12)
    p.add_argument("--sensitivity", type=float, default=-95.0)
    p.add_argument("--students-zones", type=int, default=100_000)
    p.add_argument("--skip-readings", action="store_true")
    args = p.parse_args(argv)
    if not args.skip_readings:
        r = readings_to_alerts(args.students_readings, args.seconds, args.sensitivity)
        print(
            "readings -> alerts:",
            {k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()},
        )
    z = zone_updates(args.students_zones)
    print("zone updates:", {k: round(v, 3) if isinstance(v, float) else v for k, v in z.items()})
    for with_rules in (False, True):
        m = memory(args.students_zones, with_rules)
        print("memory:", {k: round(v, 1) if isinstance(v, float) else v for k, v in m.items()})


if __name__ == "__main__":
    main()
