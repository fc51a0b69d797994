"""How much faster than real time the campus simulator runs, in process (no engine).

    .venv/bin/python benchmarks/simulator_speed.py                     # 10,000 students, 20 min
    .venv/bin/python benchmarks/simulator_speed.py --students 2000 --minutes 60 --record out/x

Runs the load-test scenario (floorplans/northfield/scenarios/load-test.toml: a lesson
change at 10:00, when everybody walks) and reports simulated seconds per wall second,
readings per badge-second and where the time went (setup, SimPy and the radio).
With --record it also writes the recording (as `sts simulate --no-truth` does).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.campus import CampusSim  # noqa: E402
from simulator.feed import Readings  # noqa: E402
from simulator.scenario import load_scenario  # noqa: E402
from sts.sim_folder import FeedWriter  # noqa: E402
from sts.simulation import prepare  # noqa: E402

SCENARIO = ROOT / "floorplans" / "northfield" / "scenarios" / "load-test.toml"


def main() -> None:
    """Run and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--students", type=int, default=10_000)
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--record", type=Path, help="also write the recording here")
    args = ap.parse_args()
    scenario = load_scenario(SCENARIO).with_overrides(
        students=args.students, duration_s=args.minutes * 60
    )
    t0 = time.perf_counter()
    prepared = prepare(scenario)
    sim = CampusSim(prepared.world, scenario)
    setup = time.perf_counter() - t0
    writer = FeedWriter(args.record, {"source": "benchmark"}) if args.record else None
    readings = badge_seconds = 0
    t1 = time.perf_counter()
    for item in sim.feed():
        if isinstance(item, Readings):
            readings += len(item.batch)
            badge_seconds += int(sim.transmitting.sum()) * (item.t1 - item.t0)
            sim.truth.take()
        if writer is not None:
            writer.write(item)
    if writer is not None:
        writer.close()
    run = time.perf_counter() - t1
    print(
        f"students {args.students}, badges {len(sim.people)}, simulated {scenario.duration_s:.0f} s"
    )
    print(f"setup (plans, walk graph, reader table) {setup:.1f} s")
    print(f"run {run:.1f} s: {scenario.duration_s / run:.1f}x real time")
    print(
        f"readings {readings:,} "
        f"({readings / max(badge_seconds, 1):.1f} per transmitting badge-second)"
    )


if __name__ == "__main__":
    main()
