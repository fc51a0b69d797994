"""The local tangent-plane frame: round trips, axes, and campus-scale distance fidelity."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from geometry.frame import LocalFrame
from geometry.model import GeoPoint

_A = 6378137.0
_E2 = (1 / 298.257223563) * (2 - 1 / 298.257223563)


def _ellipsoid_distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Short-line distance on the WGS84 ellipsoid from its radii of curvature at mid-latitude.

    An independent formula (no tangent plane): exact to well under 1 ppm below 1 km.
    """
    phi = math.radians((lat1 + lat2) / 2)
    w = 1 - _E2 * math.sin(phi) ** 2
    meridional = _A * (1 - _E2) / w**1.5
    normal = _A / math.sqrt(w)
    dn = meridional * math.radians(lat2 - lat1)
    de = normal * math.cos(phi) * math.radians(lon2 - lon1)
    return math.hypot(dn, de)


def test_origin_maps_to_zero() -> None:
    frame = LocalFrame(GeoPoint(-1.5, 52.6))
    x, y = frame.to_local(-1.5, 52.6)
    assert abs(float(x)) < 1e-6 and abs(float(y)) < 1e-6


def test_axes_point_east_and_north() -> None:
    frame = LocalFrame(GeoPoint(10.0, 45.0))
    x_e, y_e = frame.to_local(10.001, 45.0)
    x_n, y_n = frame.to_local(10.0, 45.001)
    assert float(x_e) > 70 and abs(float(y_e)) < 0.01  # ~78.8 m east at 45 deg
    assert float(y_n) > 110 and abs(float(x_n)) < 1e-6  # ~111.1 m north


@settings(max_examples=200, deadline=None)
@given(
    lon=st.floats(-179.0, 179.0),
    lat=st.floats(-80.0, 80.0),
    dx=st.floats(-1000.0, 1000.0),
    dy=st.floats(-1000.0, 1000.0),
)
def test_round_trip_is_submillimetre_within_a_kilometre(
    lon: float, lat: float, dx: float, dy: float
) -> None:
    frame = LocalFrame(GeoPoint(lon, lat))
    glon, glat = frame.to_wgs84(dx, dy)
    x, y = frame.to_local(glon, glat)
    assert abs(float(x) - dx) < 1e-3 and abs(float(y) - dy) < 1e-3


def test_distances_match_the_globe_at_campus_scale() -> None:
    # Across a 500 m campus the tangent plane keeps distances to within 1 ppm (0.5 mm).
    frame = LocalFrame(GeoPoint(-0.1276, 51.5072))
    lon, lat = frame.to_wgs84(np.array([0.0, 500.0, -300.0]), np.array([0.0, 400.0, 250.0]))
    x, y = frame.to_local(lon, lat)
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        plane = math.hypot(float(x[i] - x[j]), float(y[i] - y[j]))
        globe = _ellipsoid_distance(float(lon[i]), float(lat[i]), float(lon[j]), float(lat[j]))
        assert abs(plane - globe) / globe < 1e-6


def test_arrays_in_arrays_out() -> None:
    frame = LocalFrame(GeoPoint(2.35, 48.85))
    lon = np.full((3, 4), 2.351)
    lat = np.full((3, 4), 48.851)
    x, y = frame.to_local(lon, lat)
    assert x.shape == (3, 4) and y.shape == (3, 4)
