"""Fitting the radio's defaults on real recordings, and comparing simulated RSSI with real.

The tetam-ble recordings (tests/data/tetam-ble) pair every received advertisement with
the beacon's true 3-D position, so each row is one (distance, rssi) sample of the link
between a carried beacon and a fixed reader. `fit_log_distance` fits
rssi = P0 - 10 n log10(d) + e by least squares; `radio_defaults` turns that into
`RadioParams`: the fitted spread already contains the wearer's body (the heading is
random in the data), so the per-packet sigma is what remains after the body term's
variance (body_db^2 / 8 for a uniform heading), and rssi_1m (facing the reader) is
P0 + body_db / 2. Walls, floors and the body loss itself are not in these recordings
(one open hall, one floor, a beacon held in front): those stay at engineering values.

    .venv/bin/python -m simulator.radio_fit     # prints the fit and the defaults
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from simulator.radio import RadioParams

FloatArray = npt.NDArray[np.float64]
TETAM = Path(__file__).resolve().parents[1] / "tests" / "data" / "tetam-ble"


@dataclass(frozen=True, slots=True)
class LinkSamples:
    """Received packets: the true tag position, the reader (x, y, z) and the rssi."""

    tag_xyz: FloatArray  # (n, 3)
    reader_xyz: FloatArray  # (n, 3)
    rssi: FloatArray

    @property
    def distance_m(self) -> FloatArray:
        """3-D tag-reader distance of each packet."""
        return np.asarray(np.linalg.norm(self.tag_xyz - self.reader_xyz, axis=1), dtype=np.float64)


def read_tetam(folder: Path = TETAM) -> LinkSamples:
    """Every packet of every tetam-ble track (devices from tetam.dev)."""
    line = next(
        s for s in (folder / "tetam.dev").read_text().splitlines() if s.startswith("Dongles:")
    )
    dongles = {mac: v[0] for mac, v in json.loads(line.split(":", 1)[1]).items()}
    tags, readers, rssi = [], [], []
    for track in sorted(folder.glob("*_all_sensors.mbd")):
        with track.open(newline="") as fh:
            for row in csv.reader(fh):
                if row:
                    readers.append(dongles[row[1]])
                    rssi.append(float(row[3]))
                    tags.append([float(row[4]), float(row[5]), float(row[6])])
    return LinkSamples(np.array(tags), np.array(readers), np.array(rssi))


@dataclass(frozen=True, slots=True)
class LogDistanceFit:
    """rssi = p0 - 10 n log10(d), residual standard deviation sigma_db."""

    p0: float
    exponent: float
    sigma_db: float
    samples: int


def fit_log_distance(distance_m: FloatArray, rssi: FloatArray) -> LogDistanceFit:
    """Least-squares log-distance fit."""
    a = np.column_stack([np.ones_like(distance_m), -10.0 * np.log10(np.maximum(distance_m, 0.1))])
    coef, *_ = np.linalg.lstsq(a, rssi, rcond=None)
    residual = rssi - a @ coef
    return LogDistanceFit(float(coef[0]), float(coef[1]), float(residual.std()), len(rssi))


def radio_defaults(fit: LogDistanceFit, body_db: float = RadioParams().body_db) -> RadioParams:
    """RadioParams whose mean and spread over a random heading reproduce the fit."""
    return RadioParams(
        rssi_1m=round(fit.p0 + body_db / 2, 1),
        exponent=round(fit.exponent, 2),
        sigma_db=round(math.sqrt(max(fit.sigma_db**2 - body_db**2 / 8, 0.0)), 1),
        body_db=body_db,
    )


@dataclass(frozen=True, slots=True)
class Profile:
    """RSSI per distance bin: edges, count, median and standard deviation."""

    edges: FloatArray
    count: npt.NDArray[np.int64]
    median: FloatArray
    sd: FloatArray


def distance_profile(distance_m: FloatArray, rssi: FloatArray, edges: FloatArray) -> Profile:
    """Median and spread of rssi in each distance bin [edges[k], edges[k+1])."""
    k = np.digitize(distance_m, edges) - 1
    bins = len(edges) - 1
    count = np.bincount(k[(k >= 0) & (k < bins)], minlength=bins)
    median = np.full(bins, np.nan)
    sd = np.full(bins, np.nan)
    for b in range(bins):
        sel = rssi[k == b]
        if len(sel):
            median[b], sd[b] = np.median(sel), sel.std()
    return Profile(edges, count, median, sd)


def main() -> None:
    """Print the tetam fit and the defaults it gives."""
    samples = read_tetam()
    fit = fit_log_distance(samples.distance_m, samples.rssi)
    print(
        f"tetam-ble: {fit.samples} packets, P0 {fit.p0:.2f} dBm, n {fit.exponent:.3f}, "
        f"sd {fit.sigma_db:.2f} dB"
    )
    print(f"defaults: {radio_defaults(fit)}")


if __name__ == "__main__":
    main()
