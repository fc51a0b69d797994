"""JSON lines for zone events and alerts: one object per line, byte-for-byte stable.

Stability: keys sorted, no spaces, UTF-8 kept as is, floats rounded to 6 decimals
(microseconds for times; -0.0 written as 0.0), NaN and infinities written as null.
The same values therefore always give the same bytes, whatever the batch sizes that
produced them. Schemas: docs/events.md (events) and docs/rules.md (alerts).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any

from engine.alerts import alert_record
from engine.batches import TIME_MAX_S, TIME_MIN_S
from engine.events import Alert, EventKind, Evidence, ZoneEvent
from engine.records import ChangeRecord, change_record_dict

#: Decimals kept for every float.
DECIMALS = 6


def _clean(value: Any) -> Any:
    """A JSON-ready copy: floats rounded, mappings as dicts, sets sorted, enums as values."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        r = round(value, DECIMALS)
        return 0.0 if r == 0 else r
    if isinstance(value, int | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(_clean(v) for v in value)
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps(record: Mapping[str, Any]) -> str:
    """One JSON object as a single stable line (no newline)."""
    return json.dumps(
        _clean(record), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def evidence_record(ev: Evidence | None) -> dict[str, Any] | None:
    """Evidence as a dict (or None)."""
    if ev is None:
        return None
    return {
        "x": ev.x,
        "y": ev.y,
        "level": ev.level,
        "uncertainty_m": ev.uncertainty_m,
        "age_s": ev.age_s,
    }


def event_record(event: ZoneEvent) -> dict[str, Any]:
    """A zone event as a JSON-ready dict (schema in docs/events.md)."""
    return {
        "t": event.t,
        "tag": event.tag,
        "zone": event.zone,
        "level": event.level,
        "kind": event.kind.value,
        "visit": event.visit,
        "duration_s": event.duration_s,
        "evidence": evidence_record(event.evidence),
    }


def _num(v: float | None) -> float | None:
    """A float as written: rounded, -0.0 as 0.0, non-finite as None."""
    if v is None or not math.isfinite(v):
        return None
    r = round(v, DECIMALS)
    return 0.0 if r == 0 else r


def encode_event(event: ZoneEvent) -> str:
    """One events.jsonl line (no newline); same bytes as `dumps(event_record(event))`."""
    ev = event.evidence
    record = {
        "duration_s": _num(event.duration_s),
        "evidence": None
        if ev is None
        else {
            "age_s": _num(ev.age_s),
            "level": ev.level,
            "uncertainty_m": _num(ev.uncertainty_m),
            "x": _num(ev.x),
            "y": _num(ev.y),
        },
        "kind": event.kind.value,
        "level": event.level,
        "t": _num(event.t),
        "tag": event.tag,
        "visit": event.visit,
        "zone": event.zone,
    }
    return _ENCODER.encode(record)


_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def encode_alert(alert: Alert) -> str:
    """One alerts.jsonl line (no newline); the record is engine.alerts.alert_record."""
    return dumps(alert_record(alert))


def encode_record(record: ChangeRecord) -> str:
    """One change record (consent, acknowledgement, evacuation, zone edit) as a stable line."""
    return dumps(change_record_dict(record))


def encode_lines(items: Iterable[ZoneEvent | Alert]) -> str:
    """Events and/or alerts as JSON lines, each ended by a newline."""
    out = []
    for item in items:
        out.append(encode_event(item) if isinstance(item, ZoneEvent) else encode_alert(item))
    return "".join(line + "\n" for line in out)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number an event may hold")


def decode_event(line: str) -> ZoneEvent:
    """A ZoneEvent from one events.jsonl line (ValueError/KeyError when malformed).

    Evidence is read from the nested `evidence` object; flat `x`, `y`, `uncertainty_m`
    (older files) are accepted too.
    """
    try:
        obj = json.loads(line, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("nested too deeply to be an event") from None
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    t = obj["t"]
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        raise ValueError(f"t must be a finite number of seconds, got {t!r}")
    if not TIME_MIN_S <= t <= TIME_MAX_S:
        raise ValueError(f"t {t!r} is outside {TIME_MIN_S:g}..{TIME_MAX_S:g} s (epoch seconds)")
    ev = obj.get("evidence")
    if ev is None and all(k in obj for k in ("x", "y", "uncertainty_m")):
        ev = obj
    evidence = None
    if isinstance(ev, dict):
        evidence = Evidence(
            float(ev["x"]),
            float(ev["y"]),
            str(ev.get("level", obj.get("level", ""))),
            float(ev["uncertainty_m"]),
            float(ev.get("age_s", 0.0)),
        )
    duration = obj.get("duration_s")
    return ZoneEvent(
        t=float(t),
        tag=str(obj["tag"]),
        zone=str(obj.get("zone") or ""),
        level=str(obj.get("level") or ""),
        kind=EventKind(obj["kind"]),
        visit=str(obj.get("visit") or ""),
        duration_s=None if duration is None else float(duration),
        evidence=evidence,
    )
