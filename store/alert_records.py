"""Alerts read back from their stored records (engine.alerts.alert_record's shape)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from engine.events import Alert, AlertState, Evidence, Severity


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def _nan(value: Any) -> float:
    """Stored floats: null was a NaN (the JSON codec writes non-finite values as null)."""
    return math.nan if value is None else float(value)


def alert_from_record(record: Mapping[str, Any]) -> Alert:
    """The Alert a stored record describes (KeyError/ValueError when it is malformed)."""
    ev = record.get("evidence")
    evidence = None
    if ev:
        evidence = Evidence(
            _nan(ev["x"]),
            _nan(ev["y"]),
            str(ev["level"]),
            _nan(ev["uncertainty_m"]),
            _nan(ev["age_s"]),
        )
    return Alert(
        id=str(record["id"]),
        t=float(record["t"]),
        rule=str(record["rule"]),
        severity=Severity(record["severity"]),
        tag=str(record["tag"]),
        zone=str(record["zone"]),
        state=AlertState(record["state"]),
        message=str(record.get("message") or ""),
        evidence=evidence,
        acknowledged_by=str(record.get("acknowledged_by") or ""),
        acknowledged_at=_opt(record.get("acknowledged_at")),
        resolved_at=_opt(record.get("resolved_at")),
        details=MappingProxyType(dict(record.get("details") or {})),
        raised_at=_opt(record.get("raised_at")),
        resolved_by=str(record.get("resolved_by") or ""),
        resolution=str(record.get("resolution") or ""),
        occurrences=int(record.get("occurrences", 1)),
    )


def alerts_from_bodies(bodies: list[str]) -> list[Alert]:
    """Alerts from stored JSON bodies, in order."""
    return [alert_from_record(json.loads(b)) for b in bodies]
