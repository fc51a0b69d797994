"""The reported uncertainty radius: the tracking filter's 1-sigma radius, scaled, and
widened where the tag's gain offset estimate is beyond its dead band.

    radius = scale x filter radius x (1 + per_gain_db x max(|gain| - dead band, 0))

`gain` is the tag's gain offset integrator after the fix (engine/gain_offset.py). At a
site whose surveyed badges push their estimate out of the band, the survey's own fixes
there are far worse than the filter thinks: their residuals are model error sustained
for minutes (a part of the site the survey calibrated badly), which the estimate then
soaks up. `sts calibrate` fits both parameters on the survey (`scale` so that 68% of all
fixes lie within the radius, `per_gain_db` so that 68% of those beyond the band do); a
survey that never leaves the band fits `per_gain_db` 0: the radius is the scaled one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from geometry.errors import ConfigError

#: Largest widening per dB beyond the band a calibration may hold.
MAX_PER_GAIN_DB = 5.0


@dataclass(frozen=True, slots=True)
class RadiusModel:
    """How the reported radius follows the filter and the gain offset estimate."""

    scale: float = 1.0  # x the filter's 1-sigma radius
    per_gain_db: float = 0.0  # relative widening per dB of the estimate beyond its band

    def __post_init__(self) -> None:
        if not (self.scale > 0 and np.isfinite(self.scale)):
            raise ConfigError(f"uncertainty scale must be > 0, got {self.scale}")
        if not (0 <= self.per_gain_db <= MAX_PER_GAIN_DB):
            raise ConfigError(
                f"uncertainty_per_gain_db must be in [0, {MAX_PER_GAIN_DB}], got {self.per_gain_db}"
            )

    def radius(
        self,
        filter_radius: npt.NDArray[np.float64],
        gain_db: npt.NDArray[np.float64] | None,
        dead_band_db: float,
    ) -> npt.NDArray[np.float64]:
        """The reported radius of each fix (`gain_db` None: no gain offset estimate)."""
        scaled = filter_radius * self.scale
        if gain_db is None or self.per_gain_db == 0.0:
            return np.asarray(scaled)
        beyond = np.maximum(np.abs(gain_db) - dead_band_db, 0.0)
        return np.asarray(scaled * (1.0 + self.per_gain_db * beyond))
