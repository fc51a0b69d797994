"""The floorplan model: site, levels, zones, readers and openings, all in the local frame.

Every coordinate here is in the site's local metric frame (see `geometry.frame`):
x east, y north, metres, on the plane tangent to the earth at the site origin.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from shapely.geometry import LineString, MultiPolygon, Polygon


class ZoneKind(StrEnum):
    """What a zone is; rules and rendering key on it."""

    ROOM = "room"
    CLASSROOM = "classroom"
    LAB = "lab"
    CORRIDOR = "corridor"
    STAIRS = "stairs"
    ELEVATOR = "elevator"
    RESTROOM = "restroom"
    OFFICE = "office"
    GYM = "gym"
    CAFETERIA = "cafeteria"
    LIBRARY = "library"
    STORAGE = "storage"
    STAFF_ONLY = "staff_only"
    RESTRICTED = "restricted"
    OUTDOOR = "outdoor"
    PLAYGROUND = "playground"
    PARKING = "parking"
    BUILDING = "building"
    SAFE_AREA = "safe_area"
    MUSTER_POINT = "muster_point"
    EXIT = "exit"


#: Kinds that are rooms in the sense of the overlap check: two of these on one level
#: must not partly overlap (nesting is fine).
ROOM_LIKE_KINDS: frozenset[ZoneKind] = frozenset(
    {
        ZoneKind.ROOM,
        ZoneKind.CLASSROOM,
        ZoneKind.LAB,
        ZoneKind.CORRIDOR,
        ZoneKind.RESTROOM,
        ZoneKind.OFFICE,
        ZoneKind.GYM,
        ZoneKind.CAFETERIA,
        ZoneKind.LIBRARY,
        ZoneKind.STORAGE,
    }
)


class OpeningKind(StrEnum):
    """What an opening between zones is."""

    DOOR = "door"
    EXIT = "exit"
    EMERGENCY_EXIT = "emergency_exit"


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A WGS84 position in degrees."""

    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class Site:
    """The campus: an id, a name and, for georeferenced plans, the WGS84 origin of the frame."""

    id: str
    name: str
    origin: GeoPoint | None = None


@dataclass(frozen=True, slots=True)
class Level:
    """A floor. `ordinal` orders floors (0 ground, 1 first, -1 basement)."""

    id: str
    ordinal: int
    name: str


@dataclass(frozen=True, slots=True)
class Zone:
    """A named area on one level; its polygon (holes, several parts allowed) is in local metres."""

    id: str
    name: str
    level: str
    kind: ZoneKind
    polygon: Polygon | MultiPolygon
    properties: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class ReaderCalibration:
    """Log-distance path-loss parameters of one reader.

    rssi(d) = rssi_1m - 10 * exponent * log10(d / 1 m), with Gaussian noise of sigma_db.
    """

    rssi_1m: float = -59.0
    exponent: float = 2.0
    sigma_db: float = 4.0


@dataclass(frozen=True, slots=True)
class Reader:
    """A fixed BLE reader; z is its height in metres above its level's floor."""

    id: str
    level: str
    x: float
    y: float
    z: float = 2.5
    calibration: ReaderCalibration = field(default_factory=ReaderCalibration)


@dataclass(frozen=True, slots=True)
class Opening:
    """A door or exit: a segment on one level between the zones it connects."""

    id: str
    level: str
    kind: OpeningKind
    segment: LineString
    zones: tuple[str, ...] = ()
    name: str = ""


@dataclass(frozen=True, slots=True)
class Floorplan:
    """A whole site: its levels, zones, readers and openings."""

    site: Site
    levels: tuple[Level, ...]
    zones: tuple[Zone, ...]
    readers: tuple[Reader, ...] = ()
    openings: tuple[Opening, ...] = ()

    def level(self, level_id: str) -> Level:
        """The level with this id (KeyError when there is none)."""
        for lv in self.levels:
            if lv.id == level_id:
                return lv
        raise KeyError(level_id)

    def zone(self, zone_id: str) -> Zone:
        """The zone with this id (KeyError when there is none)."""
        for z in self.zones:
            if z.id == zone_id:
                return z
        raise KeyError(zone_id)

    def zones_on(self, level_id: str) -> Iterator[Zone]:
        """The zones of one level, in file order."""
        return (z for z in self.zones if z.level == level_id)

    def readers_on(self, level_id: str) -> Iterator[Reader]:
        """The readers of one level, in file order."""
        return (r for r in self.readers if r.level == level_id)
