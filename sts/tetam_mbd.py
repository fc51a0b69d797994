"""Tracks of the tetam-ble data set (`<track>_all_sensors.mbd`) as readings.csv + truth.csv.

An .mbd row is: t, sensor MAC (the reader id), beacon MAC, rssi, x, y, z and 9 more
numbers; every row carries the beacon's true position at that instant.
"""

from __future__ import annotations

import csv
from pathlib import Path

TRACKS = (
    "rectangular_without_rotation",
    "straight_01",
    "straight_02",
    "straight_03",
    "straight_04",
    "straight_05",
)


def mbd_to_csv(mbd: Path, readings: Path, truth: Path, tag: str, limit: int | None = None) -> float:
    """Write the first `limit` rows (all when None) of a track as readings.csv and
    truth.csv for `tag`, in file order; returns the mean true height z of those rows."""
    with open(mbd, newline="") as fh:
        rows = [r for r in csv.reader(fh) if r][:limit]
    with open(readings, "w") as r_out, open(truth, "w") as t_out:
        r_out.write("t,tag,reader,rssi\n")
        t_out.write("t,tag,x,y\n")
        for row in rows:
            r_out.write(f"{row[0]},{tag},{row[1]},{row[3]}\n")
            t_out.write(f"{row[0]},{tag},{row[4]},{row[5]}\n")
    return sum(float(r[6]) for r in rows) / max(len(rows), 1)
