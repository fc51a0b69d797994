"""The local metric frame: WGS84 <-> x east, y north in metres on the tangent plane.

The frame is the plane tangent to the WGS84 ellipsoid at the site origin (east-north-up,
ENU, with the up component dropped). At campus scale this is exact enough: over 1 km
the plane departs from the ellipsoid by 8 cm vertically and horizontal distances differ
from ellipsoidal ones by less than 1 part in 10^6 (tests/geometry/test_frame.py checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from geometry.model import GeoPoint

FloatArray = npt.NDArray[np.float64]

_A = 6378137.0  # WGS84 semi-major axis, metres
_F = 1.0 / 298.257223563
_E2 = _F * (2.0 - _F)  # first eccentricity squared
_B = _A * (1.0 - _F)
_EP2 = (_A * _A - _B * _B) / (_B * _B)  # second eccentricity squared


def _ecef(lon_deg: FloatArray, lat_deg: FloatArray) -> FloatArray:
    lon = np.radians(lon_deg)
    lat = np.radians(lat_deg)
    n = _A / np.sqrt(1.0 - _E2 * np.sin(lat) ** 2)
    return np.stack(
        [
            n * np.cos(lat) * np.cos(lon),
            n * np.cos(lat) * np.sin(lon),
            n * (1.0 - _E2) * np.sin(lat),
        ],
        axis=-1,
    )


@dataclass(frozen=True, slots=True)
class LocalFrame:
    """Projects WGS84 lon/lat to local x, y metres around `origin`, and back."""

    origin: GeoPoint

    def _basis(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        lon = np.radians(self.origin.lon)
        lat = np.radians(self.origin.lat)
        east = np.array([-np.sin(lon), np.cos(lon), 0.0])
        north = np.array([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)])
        up = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
        o = _ecef(np.array(self.origin.lon), np.array(self.origin.lat))
        return east, north, up, o

    def to_local(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """x, y in metres of WGS84 points (degrees); arrays in, arrays out."""
        east, north, _, o = self._basis()
        d = _ecef(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)) - o
        return d @ east, d @ north

    def to_wgs84(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """lon, lat in degrees of local points on the tangent plane (Bowring's method)."""
        east, north, _, o = self._basis()
        xa = np.asarray(x, dtype=np.float64)[..., None]
        ya = np.asarray(y, dtype=np.float64)[..., None]
        p3 = o + xa * east + ya * north
        px, py, pz = p3[..., 0], p3[..., 1], p3[..., 2]
        p = np.hypot(px, py)
        theta = np.arctan2(pz * _A, p * _B)
        lat = np.arctan2(pz + _EP2 * _B * np.sin(theta) ** 3, p - _E2 * _A * np.cos(theta) ** 3)
        lon = np.arctan2(py, px)
        return np.degrees(lon), np.degrees(lat)
