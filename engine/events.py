"""The engine's outputs: zone events and alerts, immutable typed values.

Events are few (transitions only), so they are plain frozen objects; the hot path
before them works on arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class EventKind(StrEnum):
    """The Tile38 vocabulary plus badge health."""

    ENTER = "enter"  # the student is now inside the zone (after margin and dwell)
    EXIT = "exit"  # the student has left the zone (after margin and dwell)
    INSIDE = "inside"  # initial state: already inside when tracking or the zone began
    OUTSIDE = "outside"  # initial state: outside (emitted only where documented)
    CROSS = "cross"  # the segment between two fixes passed through the zone
    STALE = "stale"  # the badge has been silent longer than the stale threshold
    LOST = "lost"  # the badge has been silent longer than the lost threshold


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a decision was based on: the fix, its uncertainty and its age at decision time."""

    x: float
    y: float
    level: str
    uncertainty_m: float
    age_s: float


@dataclass(frozen=True, slots=True)
class ZoneEvent:
    """One transition of one student with respect to one zone (zone '' for stale/lost)."""

    t: float
    tag: str
    zone: str
    level: str
    kind: EventKind
    visit: str = ""  # visit id: set on enter/inside/exit/cross of the same visit
    duration_s: float | None = None  # on exit: how long the visit lasted
    evidence: Evidence | None = None


class AlertState(StrEnum):
    """Alert lifecycle: raised -> acknowledged -> resolved (see engine/alerts.py table)."""

    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Severity(StrEnum):
    """How urgent an alert is; critical alerts are never resolved by the system."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert at one point of its lifecycle (each change is a new value)."""

    id: str
    t: float
    rule: str
    severity: Severity
    tag: str
    zone: str
    state: AlertState
    message: str = ""
    evidence: Evidence | None = None
    acknowledged_by: str = ""
    acknowledged_at: float | None = None
    resolved_at: float | None = None
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    raised_at: float | None = None  # when the alert was first raised (t is this change's time)
    resolved_by: str = ""  # "system" or the person who resolved it
    resolution: str = ""  # the reason given on resolve
    occurrences: int = 1  # how many times the same condition triggered while open
