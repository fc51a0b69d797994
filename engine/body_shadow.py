"""The wearer's body: readers ahead of a walking badge read it hotter than readers behind.

A badge worn on the chest loses up to `body_db` toward a reader behind its wearer, about
body_db x (1 - cos a) / 2 with a the angle between the wearer's heading and the
direction to the reader. A calibration fitted on a survey with random headings holds the
mean of that loss (body_db / 2) in its rssi_1m, so what is left at a fix is
+body_db x cos(a) / 2: the reading minus that is what the calibration expects.

While a tag walks, its track's velocity gives the heading; standing still (or turning on
the spot) the heading is unknown and its readings are left as they are. `sts calibrate`
fits body_db on the survey (`sts.survey_fit.fit_body_db`); 0 turns the correction off.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: Below this speed (m/s) a track's velocity says too little about where its wearer faces.
MIN_WALKING_SPEED = 0.2


def facing_cosine(
    reader_xy: npt.NDArray[np.float64],
    position: npt.NDArray[np.float64],
    velocity: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """cos of the angle between each row's heading and the direction to each of its
    readers: reader_xy (n, k, 2), position and velocity (n, 2); 0 where the row is not
    walking (slower than MIN_WALKING_SPEED, or NaN: no track) or on top of the reader."""
    speed = np.hypot(velocity[:, 0], velocity[:, 1])
    walking = speed > MIN_WALKING_SPEED  # False for NaN
    dx = reader_xy[:, :, 0] - position[:, None, 0]
    dy = reader_xy[:, :, 1] - position[:, None, 1]
    along = dx * velocity[:, None, 0] + dy * velocity[:, None, 1]
    norm = np.hypot(dx, dy) * speed[:, None]
    usable = walking[:, None] & (norm > 1e-6)
    return np.where(usable, along / np.where(usable, norm, 1.0), 0.0)


def body_excess(
    reader_xy: npt.NDArray[np.float64],
    position: npt.NDArray[np.float64],
    velocity: npt.NDArray[np.float64],
    body_db: float,
) -> npt.NDArray[np.float64]:
    """dB by which each reading is expected above the calibration's mean for the
    wearer's heading (n, k): subtract it from the readings."""
    return body_db * 0.5 * facing_cosine(reader_xy, position, velocity)
