"""Per-tag gain offset: how much hotter or weaker a badge reads than the surveyed one.

One badge model may read several dB away from the surveyed one (another phone, a weak
battery, a badge worn under a coat). The offset is estimated online from the residuals
of the tag's own fixes: after each fix, the noise-weighted mean of measured minus
modelled RSSI at the fix, shrunk towards 0 by a prior, less the reference (the mean
residual the surveyed badges themselves leave, fitted by `sts calibrate`), feeds an
integrator per tag. Only what exceeds a dead band is subtracted from the tag's
readings, and within the band the integrator leaks back towards 0: the residuals of a
well-calibrated badge wander by a few dB (bodies, furniture, walls in front of some
readers), and correcting that noise costs accuracy (benchmarks/RESULTS.md, "Per-tag
gain offset").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from geometry.errors import ConfigError


@dataclass(frozen=True, slots=True)
class GainSpec:
    """Parameters of the per-tag gain offset estimate."""

    prior_db: float = 6.0  # spread of device offsets expected a priori (shrinks each step)
    rate: float = 0.5  # share of each fix's residual that the integrator takes
    dead_band_db: float = 3.0  # offsets within this are not applied
    limit_db: float = 25.0  # the integrator stays within +-limit
    # Share of the integrator lost each fix while it is within the dead band: a badge
    # whose residuals only wander (bodies, furniture) stays near 0, one whose fixes keep
    # a mean residual above dead_band x leak / rate (3 dB here) pushes through the band
    # and is then integrated without loss.
    leak: float = 0.5
    # The mean fix residual of the surveyed badges themselves (`sts calibrate` fits it,
    # 1-2.5 dB here): the window's upper-quartile RSSI reads hotter than the calibration's
    # mean model. Without it the surveyed badge's integrator settles a few dB out, at the
    # edge of the band, where walls and furniture push it through.
    reference_db: float = 0.0

    def __post_init__(self) -> None:
        if not (self.prior_db > 0 and 0 < self.rate <= 1 and self.dead_band_db >= 0):
            raise ConfigError(
                "gain offset: prior_db must be > 0, rate in (0, 1], dead_band_db >= 0; got "
                f"{self.prior_db}, {self.rate}, {self.dead_band_db}"
            )
        if not 0 <= self.leak < 1:
            raise ConfigError(f"gain offset: leak must be in [0, 1), got {self.leak}")
        if not abs(self.reference_db) <= 20.0:
            raise ConfigError(
                f"gain offset: reference_db must be within +-20 dB, got {self.reference_db}"
            )
        if not self.limit_db > self.dead_band_db:
            raise ConfigError(
                f"gain offset: limit_db must exceed dead_band_db, got {self.limit_db}"
            )


def applied_offset(state: npt.NDArray[np.float64], spec: GainSpec) -> npt.NDArray[np.float64]:
    """The part of each integrator value beyond the dead band (dB to subtract)."""
    return np.asarray(np.sign(state) * np.maximum(np.abs(state) - spec.dead_band_db, 0.0))


def fix_residual(
    rssi: npt.NDArray[np.float64],
    modelled: npt.NDArray[np.float64],
    sigma_db: npt.NDArray[np.float64],
    used: npt.NDArray[np.bool_],
    spec: GainSpec,
) -> npt.NDArray[np.float64]:
    """Per row: noise-weighted mean of (rssi - modelled) over the used readers, shrunk by
    the prior (a row of one weak reading says little about the device); NaN for a row
    without a used reader (no fix: nothing to learn)."""
    weight = np.where(used, 1.0 / np.square(sigma_db), 0.0)
    residual = np.where(used, rssi - modelled, 0.0)
    mean = (residual * weight).sum(1) / (weight.sum(1) + 1.0 / spec.prior_db**2)
    return np.asarray(np.where(used.any(1), mean, np.nan))


def step(
    state: npt.NDArray[np.float64], residual: npt.NDArray[np.float64], spec: GainSpec
) -> npt.NDArray[np.float64]:
    """The integrator after one fix's residual less the reference (leaking while within
    the dead band); unchanged where the residual is NaN (no fix)."""
    excess = residual - spec.reference_db
    new = np.clip(state + spec.rate * excess, -spec.limit_db, spec.limit_db)
    inside = np.abs(new) < spec.dead_band_db
    new = np.where(inside, new * (1.0 - spec.leak), new)
    return np.asarray(np.where(np.isnan(residual), state, new))
