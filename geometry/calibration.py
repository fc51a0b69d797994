"""Calibration: fit the log-distance path-loss model from a survey, robust to outliers.

Model (as `geometry.model.ReaderCalibration`): rssi = rssi_1m - 10 n log10(d) + e, with
e ~ N(0, sigma^2). It is linear in (rssi_1m, n) with the regressor u = -10 log10(d).

- Global fit: every sample. Huber IRLS from the least-squares start (bounded influence),
  then Tukey bisquare iterations (outliers far out get weight 0), the scale re-estimated
  each round from the MAD. sigma is then the truncated standard deviation of the
  residuals within 2.5 robust sigmas, corrected for the truncation (the inliers' noise,
  not the outliers').
- Per reader: the same robust fit with a Gaussian prior centred on the global fit whose
  information equals `min_samples` typical samples (the global design's information per
  sample, times `min_samples`). A reader with no samples gets the global fit; one with
  `min_samples` samples sits halfway (in the information sense); one with many gets its
  own. The prior also holds the exponent where a reader's distances span too little
  to determine it. sigma^2 shrinks the same way: (m s^2 + min_samples sigma_g^2) /
  (m + min_samples).
- Results are clipped to the ranges `sts locate` accepts: rssi_1m in -127..0 dBm,
  exponent in 0.5..8, sigma_db >= 0.1 dB.

Samples with a non-finite rssi or distance, a distance <= 0 or an unknown reader are
dropped and counted (`Calibration.dropped`). Distances under 0.1 m are raised to 0.1 m
(near-field readings say nothing about the far-field slope).

Pure: numpy only, no I/O. `calibration_to_dict` / `calibration_from_dict` turn a
`Calibration` into plain TOML-ready data and back (the application writes the file).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from geometry.errors import ConfigError, InputError
from geometry.model import ReaderCalibration

#: Distances are floored here (m).
MIN_DISTANCE = 0.1
RSSI_1M_RANGE = (-127.0, 0.0)
EXPONENT_RANGE = (0.5, 8.0)
SIGMA_MIN = 0.1

_HUBER_K = 1.345
_TUKEY_C = 4.685
_TRUNC = 2.5
# E[z^2 | |z| < 2.5] for a standard normal: the truncated variance correction.
_TRUNC_VAR = 1.0 - 2.0 * _TRUNC * math.exp(-0.5 * _TRUNC**2) / math.sqrt(2 * math.pi) / math.erf(
    _TRUNC / math.sqrt(2.0)
)


@dataclass(frozen=True, slots=True)
class Calibration:
    """A global fit and one fit per reader index (arrays of length n_readers)."""

    global_: ReaderCalibration
    rssi_1m: npt.NDArray[np.float64]
    exponent: npt.NDArray[np.float64]
    sigma_db: npt.NDArray[np.float64]
    n_samples: npt.NDArray[np.int64]  # samples each reader's fit used
    dropped: int = 0  # samples rejected as unusable

    def reader(self, i: int) -> ReaderCalibration:
        """The calibration of reader index i."""
        return ReaderCalibration(
            float(self.rssi_1m[i]), float(self.exponent[i]), float(self.sigma_db[i])
        )

    def readers(self) -> list[ReaderCalibration]:
        """Every reader's calibration, by index."""
        return [self.reader(i) for i in range(len(self.rssi_1m))]


@dataclass(frozen=True, slots=True)
class _Fit:
    """One robust linear fit: coefficients (rssi_1m, n), residual sigma, inlier weights."""

    beta: npt.NDArray[np.float64]
    sigma: float
    weights: npt.NDArray[np.float64]


def _mad_sigma(r: npt.NDArray[np.float64], w: npt.NDArray[np.float64] | None = None) -> float:
    """1.4826 x the median absolute residual (of the samples with weight > 0)."""
    if w is not None:
        r = r[w > 0]
    if len(r) == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(r - np.median(r))))


def _truncated_sigma(r: npt.NDArray[np.float64], s: float) -> float:
    """sigma of the residuals within 2.5 s, corrected for the truncation; s if too few."""
    for _ in range(5):
        inside = np.abs(r) < _TRUNC * s
        if inside.sum() < 3:
            return s
        s = math.sqrt(float(np.mean(r[inside] ** 2)) / _TRUNC_VAR)
    return s


def _robust_fit(
    u: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    prior_beta: npt.NDArray[np.float64] | None = None,
    prior_info: npt.NDArray[np.float64] | None = None,
    scale_hint: float | None = None,
    prior_n: float = 0.0,
) -> _Fit:
    """IRLS for y = b0 + b1 u: Huber, then Tukey bisquare; optional Gaussian prior on b.

    The prior enters as information (already divided by sigma^2's units: it is added to
    X^T W X / s^2 with the data's own s), so it weighs against the data consistently.
    """
    X = np.column_stack((np.ones_like(u), u))

    def solve(w: npt.NDArray[np.float64], s: float) -> npt.NDArray[np.float64]:
        A = (X * w[:, None]).T @ X / (s * s)
        b = (X * w[:, None]).T @ y / (s * s)
        if prior_info is not None and prior_beta is not None:
            A = A + prior_info
            b = b + prior_info @ prior_beta
        # A tiny ridge keeps a single distinct distance solvable (the prior does the rest).
        A = A + np.eye(2) * 1e-9
        return np.asarray(np.linalg.solve(A, b), dtype=np.float64)

    def shrunk(s: float, w: npt.NDArray[np.float64]) -> float:
        """The scale, shrunk toward the hint as the prior: a handful of samples' MAD is
        too noisy to weigh the data against the prior with."""
        if prior_n <= 0 or not scale_hint:
            return s
        m = float(w.sum())
        return math.sqrt((m * s * s + prior_n * scale_hint**2) / (m + prior_n))

    w = np.ones(len(y))
    s0 = scale_hint if scale_hint and scale_hint > 0 else max(float(np.std(y)), 1.0)
    beta = solve(w, s0)
    s = shrunk(max(_mad_sigma(y - X @ beta), 1e-3), w)
    for kind, k, rounds in (("huber", _HUBER_K, 20), ("tukey", _TUKEY_C, 20)):
        for _ in range(rounds):
            r = y - X @ beta
            z = np.abs(r) / s
            if kind == "huber":
                w = np.where(z <= k, 1.0, k / np.maximum(z, 1e-12))
            else:
                w = np.where(z < k, (1.0 - (z / k) ** 2) ** 2, 0.0)
            if w.sum() < 2:
                break
            new = solve(w, s)
            s = shrunk(max(_mad_sigma(y - X @ new, w), 1e-3), w)
            done = bool(np.max(np.abs(new - beta)) < 1e-7)
            beta = new
            if done:
                break
    sigma = shrunk(_truncated_sigma(y - X @ beta, s), w)
    return _Fit(beta, sigma, w)


def _clip(beta: npt.NDArray[np.float64], sigma: float) -> tuple[float, float, float]:
    """rssi_1m, exponent, sigma clipped to the ranges the locator accepts."""
    p0 = float(np.clip(beta[0], *RSSI_1M_RANGE))
    n = float(np.clip(beta[1] / 1.0, *EXPONENT_RANGE))
    return p0, n, max(float(sigma), SIGMA_MIN)


def fit_path_loss(
    distance_m: npt.ArrayLike,
    rssi: npt.ArrayLike,
    reader: npt.ArrayLike,
    n_readers: int,
    *,
    min_samples: int = 30,
) -> Calibration:
    """Global and per-reader path-loss fits from survey samples (see the module docstring)."""
    d = np.asarray(distance_m, dtype=np.float64).ravel()
    y = np.asarray(rssi, dtype=np.float64).ravel()
    rd = np.asarray(reader).ravel()
    if not (len(d) == len(y) == len(rd)):
        raise InputError(
            f"fit_path_loss: distance_m, rssi and reader differ in length "
            f"({len(d)}, {len(y)}, {len(rd)}); pass one value per sample"
        )
    if n_readers < 0:
        raise InputError(f"fit_path_loss: n_readers must be >= 0, got {n_readers}")
    if min_samples < 1:
        raise InputError(f"fit_path_loss: min_samples must be >= 1, got {min_samples}")
    ok = np.isfinite(d) & np.isfinite(y) & (d > 0) & (rd >= 0) & (rd < n_readers)
    dropped = int(len(d) - ok.sum())
    d, y, rd = d[ok], y[ok], rd[ok].astype(np.int64)
    if len(d) < 3 or np.ptp(np.log10(np.maximum(d, MIN_DISTANCE))) < 1e-3:
        raise InputError(
            f"fit_path_loss: {len(d)} usable samples; a fit needs at least 3 at different "
            "distances: survey more positions"
        )
    u = -10.0 * np.log10(np.maximum(d, MIN_DISTANCE))
    g = _robust_fit(u, y)
    g_p0, g_n, g_sigma = _clip(g.beta, g.sigma)
    g_beta = np.array([g_p0, g_n])
    # Information of one typical sample of the global design (per unit variance).
    X = np.column_stack((np.ones_like(u), u))
    per_sample = (X * g.weights[:, None]).T @ X / max(float(g.weights.sum()), 1.0)
    prior_info = min_samples * per_sample / (g_sigma * g_sigma)

    p0 = np.full(n_readers, g_p0)
    ex = np.full(n_readers, g_n)
    sg = np.full(n_readers, g_sigma)
    counts = np.bincount(rd, minlength=n_readers).astype(np.int64)
    order = np.argsort(rd, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts)))
    for i in np.flatnonzero(counts).tolist():
        rows = order[starts[i] : starts[i + 1]]
        f = _robust_fit(
            u[rows], y[rows], g_beta, prior_info, scale_hint=g_sigma, prior_n=min_samples
        )
        p0[i], ex[i], sg[i] = _clip(f.beta, f.sigma)
    return Calibration(
        global_=ReaderCalibration(g_p0, g_n, g_sigma),
        rssi_1m=p0,
        exponent=ex,
        sigma_db=sg,
        n_samples=counts,
        dropped=dropped,
    )


def _cal_dict(c: ReaderCalibration) -> dict[str, float]:
    """One calibration as a TOML table (rounded: files stay readable and stable)."""
    return {
        "rssi_1m": round(c.rssi_1m, 3),
        "exponent": round(c.exponent, 4),
        "sigma_db": round(c.sigma_db, 3),
    }


def calibration_to_dict(cal: Calibration, reader_ids: Sequence[str]) -> dict[str, Any]:
    """TOML-ready data: {"global": {...}, "readers": {id: {..., "samples": m}}}."""
    if len(reader_ids) != len(cal.rssi_1m):
        raise InputError(
            f"calibration_to_dict: {len(reader_ids)} reader ids for {len(cal.rssi_1m)} readers"
        )
    readers: dict[str, Any] = {}
    for i, rid in enumerate(reader_ids):
        readers[rid] = {**_cal_dict(cal.reader(i)), "samples": int(cal.n_samples[i])}
    return {"global": _cal_dict(cal.global_), "readers": readers}


def _number(where: str, table: Mapping[str, Any], key: str) -> float:
    """A finite number at table[key], or a ConfigError naming where."""
    v = table.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ConfigError(f"{where}.{key} must be a finite number, got {v!r}; re-run calibration")
    return float(v)


def _cal_from(where: str, table: Any) -> ReaderCalibration:
    """A ReaderCalibration from a TOML table, range-checked."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table with rssi_1m, exponent, sigma_db")
    c = ReaderCalibration(
        _number(where, table, "rssi_1m"),
        _number(where, table, "exponent"),
        _number(where, table, "sigma_db"),
    )
    lo, hi = EXPONENT_RANGE
    if not (RSSI_1M_RANGE[0] <= c.rssi_1m <= RSSI_1M_RANGE[1] and lo <= c.exponent <= hi) or not (
        c.sigma_db > 0
    ):
        raise ConfigError(
            f"{where}: values out of range (rssi_1m -127..0 dBm, exponent 0.5..8, "
            "sigma_db > 0); re-run calibration"
        )
    return c


def calibration_from_dict(
    data: Mapping[str, Any], reader_ids: Sequence[str], *, source: str = "calibration"
) -> Calibration:
    """A Calibration from `calibration_to_dict` data; readers missing get the global fit.

    Raises ConfigError naming `source` and the key for a malformed table or a reader id
    that is not in `reader_ids`.
    """
    g = _cal_from(f"{source}: global", data.get("global"))
    readers = data.get("readers", {})
    if not isinstance(readers, Mapping):
        raise ConfigError(f"{source}: readers must be a table keyed by reader id")
    index = {rid: i for i, rid in enumerate(reader_ids)}
    unknown = sorted(set(readers) - set(index))
    if unknown:
        raise ConfigError(
            f"{source}: readers.{unknown[0]} is not a reader of the floorplan "
            f"({len(unknown)} unknown); calibrate against the same floorplan"
        )
    n = len(reader_ids)
    p0 = np.full(n, g.rssi_1m)
    ex = np.full(n, g.exponent)
    sg = np.full(n, g.sigma_db)
    counts = np.zeros(n, np.int64)
    for rid, table in readers.items():
        c = _cal_from(f"{source}: readers.{rid}", table)
        i = index[rid]
        p0[i], ex[i], sg[i] = c.rssi_1m, c.exponent, c.sigma_db
        samples = table.get("samples", 0)
        if isinstance(samples, int) and not isinstance(samples, bool) and samples >= 0:
            counts[i] = samples
    return Calibration(g, p0, ex, sg, counts)
