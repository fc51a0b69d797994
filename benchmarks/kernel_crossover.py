"""Serial or parallel: the batch size from which a parallel kernel pays for its start-up.

Run: .venv/bin/python benchmarks/kernel_crossover.py [--load idle busy] [--repeat 200]

For each batch size, the median time of the trilateration kernel one core (`parallel=False`)
and on every numba thread (`parallel=True`), with the other core idle and then taken by a
busy loop (`engine_ticks.busy_core`). The rows are the classroom set of
`trilateration_side_by_side.py` (6 readers, 4 dB noise). The crossover (the smallest
size where parallel is faster in both loads) is what `LocatorConfig.parallel_min_fixes`
is set from; figures in benchmarks/RESULTS.md, "Engine at live shapes".
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from engine_ticks import busy_core
from trilateration_side_by_side import calibration, ours, synthetic

SIZES = (30, 100, 300, 1_000, 3_000, 10_000, 20_000, 30_000, 50_000, 100_000)


def median_time(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of `repeat` calls (after one untimed call)."""
    fn()
    times = np.empty(repeat)
    for i in range(repeat):
        started = time.perf_counter()
        fn()
        times[i] = time.perf_counter() - started
    return float(np.median(times))


def trilateration_times(n: int, repeat: int) -> tuple[float, float]:
    """(serial, parallel) median seconds of one trilateration batch of n rows."""
    _, anchors, rssi, count = synthetic(n, seed=3)
    cal = calibration(n, anchors.shape[1])
    serial = median_time(lambda: ours(anchors, rssi, count, cal, parallel=False), repeat)
    parallel = median_time(lambda: ours(anchors, rssi, count, cal, parallel=True), repeat)
    return serial, parallel


def main() -> None:
    """Print serial and parallel times per batch size and load."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--load", nargs="+", choices=("idle", "busy"), default=["idle", "busy"])
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    print(f"{'kernel':>14} {'load':>5} {'rows':>8} {'serial us':>10} {'parallel us':>12} faster")
    for load in args.load:
        with busy_core(load == "busy"):
            for n in SIZES:
                repeat = max(5, min(args.repeat, int(args.repeat * 1000 / n)))
                serial, parallel = trilateration_times(n, repeat)
                faster = "parallel" if parallel < serial else "serial"
                print(
                    f"{'trilaterate':>14} {load:>5} {n:>8,} {serial * 1e6:>10.1f} "
                    f"{parallel * 1e6:>12.1f} {faster}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
