"""Reading CSV: parse rate on one core, and peak memory of `sts locate` / `sts zones`.

    .venv/bin/python benchmarks/csv_reading.py --readings out/demo/readings.csv
    .venv/bin/python benchmarks/csv_reading.py --readings R.csv --big-rows 0   # no 50 M files

(a) parses the readings file with `sts.readings_csv.iter_readings`, the process pinned to
    one CPU, three times: rows per second of wall time and of CPU time (the machine is
    shared, so both are printed);
(b) runs `sts locate` on the readings file and `sts zones` on a points file of as many
    rows, then both again on `--big-rows` rows made by benchmarks/make_big_inputs.py in
    a temporary folder (deleted after), and prints each child's peak RSS (`os.wait4`)
    and wall time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "floorplans" / "northfield"


def parse_rate(readings: Path, repeat: int) -> None:
    """Rows/s of `iter_readings` over the whole file, on one CPU."""
    from sts.floorplan_io import load_floorplan
    from sts.readings_csv import iter_readings

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    reader_ids = [r.id for r in load_floorplan(PLAN).floorplan.readers]
    for run in range(repeat):
        wall, cpu, rows = time.perf_counter(), time.process_time(), 0
        for chunk in iter_readings(readings, reader_ids):
            rows += len(chunk.batch)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"parse run {run + 1}: {rows} rows, {wall:.2f} s wall "
            f"({rows / wall / 1e6:.2f} M rows/s), {cpu:.2f} s CPU "
            f"({rows / cpu / 1e6:.2f} M rows/s)",
            flush=True,
        )


def run_child(args: list[str]) -> tuple[float, float]:
    """Peak RSS (MB) and wall time (s) of one `sts` command run to completion."""
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "sts", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"sts {' '.join(args)} failed ({proc.returncode}):\n{err}")
    return usage.ru_maxrss / 1024, wall


def peak_memory(readings: Path, points: Path, label: str, folder: Path) -> None:
    """`sts locate` on the readings, `sts zones` on the points: peak RSS and wall time."""
    out = folder / "out.csv"
    for command, args in (
        ("locate", ["locate", "--floorplan", str(PLAN), "--readings", str(readings)]),
        ("zones", ["zones", str(PLAN), "--in", str(points)]),
    ):
        rss, wall = run_child([*args, "--out", str(out)])
        size = (readings if command == "locate" else points).stat().st_size / 1e6
        print(f"{label}: sts {command} ({size:.0f} MB in): peak RSS {rss:.0f} MB, {wall:.1f} s")
        out.unlink()


def make(kind: str, rows: int, out: Path, source: Path | None = None) -> None:
    """Write a generated input with benchmarks/make_big_inputs.py."""
    extra = ["--from", str(source)] if source else []
    script = str(ROOT / "benchmarks" / "make_big_inputs.py")
    cmd = [sys.executable, script, kind, "--rows", str(rows), "--out", str(out), *extra]
    subprocess.run(cmd, check=True)


def main() -> None:
    """Parse rate, then peak memory on the given file and on the big generated ones."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=Path, default=ROOT / "out" / "demo" / "readings.csv")
    parser.add_argument("--big-rows", type=int, default=50_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with open(args.readings, "rb") as fh:
        rows = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 24), b"")) - 1
    parse_rate(args.readings, args.repeat)
    with tempfile.TemporaryDirectory(prefix="sts-csv-bench-") as tmp:
        folder = Path(tmp)
        make("points", rows, folder / "points.csv")
        peak_memory(args.readings, folder / "points.csv", f"{rows / 1e6:.1f} M rows", folder)
        (folder / "points.csv").unlink()
        if args.big_rows:
            make("readings", args.big_rows, folder / "readings.csv", args.readings)
            make("points", args.big_rows, folder / "points.csv")
            label = f"{args.big_rows / 1e6:.1f} M rows"
            peak_memory(folder / "readings.csv", folder / "points.csv", label, folder)


if __name__ == "__main__":
    main()
