"""Per-tag gain offset: how much hotter or weaker a badge reads than the surveyed one.

One badge model may read several dB away from the surveyed one (another phone, a weak
battery, a badge worn under a coat). The offset is estimated online from the residuals
of the tag's own fixes, in a loop closed on itself: each fix is first solved with the
whole estimate removed from the tag's readings, and the noise-weighted mean of measured
minus modelled RSSI at that fix, shrunk towards 0 by a prior, less the reference (the
mean residual the surveyed badges themselves leave, fitted by `sts calibrate`), feeds an
integrator per tag. Its fixed point is the offset that leaves no residual, however much
of the offset the solve could absorb by moving the fix (far readers on one side trade
gain for distance).

What is removed from the readings of the fix that is reported is a separate, shaped
value: nothing within a dead band, the whole estimate beyond `full_db`, a linear ramp of
the share between. The residuals of a well-calibrated badge wander by a few dB (bodies,
furniture, walls, places the survey did not walk), and correcting that costs accuracy.
Closing the loop through the shaped value instead (the design before) made the band a
trigger only: once noise pushed the integrator through, it settled where the applied
value left no residual, applying a site's model error in full (benchmarks/RESULTS.md,
"Gain offset drift on the corrected simulator").
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
    dead_band_db: float = 3.0  # estimates within this are not applied
    full_db: float = 6.0  # estimates beyond this are applied in full
    limit_db: float = 25.0  # the integrator stays within +-limit
    # The mean fix residual of the surveyed badges themselves (`sts calibrate` fits it,
    # 1-2.5 dB here): the window's upper-quartile RSSI reads hotter than the calibration's
    # mean model. Without it the surveyed badge's estimate settles a few dB out, at the
    # edge of the band, where walls and furniture push it through.
    reference_db: float = 0.0
    # False: the estimate is measured and never removed from a reading, neither for the
    # reported fix nor for the one it learns from (the reference's fit on the survey).
    applies: bool = True

    def __post_init__(self) -> None:
        if not (self.prior_db > 0 and 0 < self.rate <= 1 and self.dead_band_db >= 0):
            raise ConfigError(
                "gain offset: prior_db must be > 0, rate in (0, 1], dead_band_db >= 0; got "
                f"{self.prior_db}, {self.rate}, {self.dead_band_db}"
            )
        if not self.full_db > self.dead_band_db:
            raise ConfigError(f"gain offset: full_db must exceed dead_band_db, got {self.full_db}")
        if not abs(self.reference_db) <= 20.0:
            raise ConfigError(
                f"gain offset: reference_db must be within +-20 dB, got {self.reference_db}"
            )
        if not self.limit_db > self.dead_band_db:
            raise ConfigError(
                f"gain offset: limit_db must exceed dead_band_db, got {self.limit_db}"
            )


def applied_offset(estimate: npt.NDArray[np.float64], spec: GainSpec) -> npt.NDArray[np.float64]:
    """dB to subtract from a tag's readings for the fix that is reported: 0 within the
    dead band, the whole estimate beyond `full_db`, a linear ramp of the share between
    (no jump in the fixes as an estimate crosses the band); 0 where it is only measured."""
    if not spec.applies:
        return np.zeros_like(estimate)
    band = spec.dead_band_db
    share = np.clip((np.abs(estimate) - band) / (spec.full_db - band), 0.0, 1.0)
    return np.asarray(estimate * share)


def learning_offset(estimate: npt.NDArray[np.float64], spec: GainSpec) -> npt.NDArray[np.float64]:
    """dB to subtract from a tag's readings for the fix the estimate learns from: all of
    it (0 where the estimate is only measured)."""
    return estimate if spec.applies else np.zeros_like(estimate)


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
    estimate: npt.NDArray[np.float64], residual: npt.NDArray[np.float64], spec: GainSpec
) -> npt.NDArray[np.float64]:
    """The estimate after one fix's residual (measured with the whole estimate removed)
    less the reference; unchanged where the residual is NaN (no fix)."""
    new = np.clip(
        estimate + spec.rate * (residual - spec.reference_db), -spec.limit_db, spec.limit_db
    )
    return np.asarray(np.where(np.isnan(residual), estimate, new))
