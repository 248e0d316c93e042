"""A flat local projection (metres) shared by planning, kinematics and ground truth.

Tracks are straight in this projection, so a crossing found on a path in metres maps exactly to
the positions the simulator reports: every consumer must use the same ``Projection``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from monitor.core.geo import METRES_PER_DEG

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Projection:
    """Equirectangular projection around ``lat0_deg``: x east and y north, in metres."""

    lat0_deg: float

    @property
    def m_per_deg_lon(self) -> float:
        return METRES_PER_DEG * math.cos(math.radians(self.lat0_deg))

    def to_xy(self, lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Return (x_m, y_m) of positions in degrees."""
        return np.asarray(lon) * self.m_per_deg_lon, np.asarray(lat) * METRES_PER_DEG

    def to_latlon(self, x_m: FloatArray, y_m: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Return (lat, lon) in degrees of projected positions."""
        return np.asarray(y_m) / METRES_PER_DEG, np.asarray(x_m) / self.m_per_deg_lon

    def point(self, lat: float, lon: float) -> tuple[float, float]:
        """Return (x_m, y_m) of one position."""
        return lon * self.m_per_deg_lon, lat * METRES_PER_DEG

    def geometry(self, geom: BaseGeometry) -> BaseGeometry:
        """Return a lon/lat geometry projected to metres."""
        scale = np.array([self.m_per_deg_lon, METRES_PER_DEG])
        return shapely.transform(geom, lambda coords: coords * scale)


def bearing_deg(dx_m: FloatArray, dy_m: FloatArray) -> FloatArray:
    """Return the compass bearing (0 = north, clockwise) of displacements, in [0, 360)."""
    return np.mod(np.degrees(np.arctan2(dx_m, dy_m)), 360.0)
