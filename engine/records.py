"""Change records: every state change a person or the system makes, as one typed value.

Consent granted or withdrawn, an alert acknowledged or resolved, an evacuation started
or ended, a student marked safe, a zone added, changed or removed: each comes out of
the Engine as a `ChangeRecord` (time, actor, reason, what changed), beside the events
and alerts of the same call, so a store can persist it and an audit log can chain it
without knowing which shell (CLI, server, simulator, replay) gave the command.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

#: The actor of a change the system makes on its own (an alert resolved by a rule).
SYSTEM = "system"


class ChangeKind(StrEnum):
    """What changed."""

    CONSENT_GRANTED = "consent_granted"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    ALERT_ACKNOWLEDGED = "alert_acknowledged"
    ALERT_RESOLVED = "alert_resolved"
    EVACUATION_STARTED = "evacuation_started"
    EVACUATION_ENDED = "evacuation_ended"
    STUDENT_MARKED_SAFE = "student_marked_safe"
    ZONE_ADDED = "zone_added"
    ZONE_CHANGED = "zone_changed"
    ZONE_REMOVED = "zone_removed"


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """One change: when (data time, s), what, who made it, why, and what it applies to.

    `subject` is the tag, alert id, zone id or evacuation mode the change is about;
    `details` holds the kind's own values (e.g. the roll-call counts at its end).
    """

    t: float
    kind: ChangeKind
    actor: str
    subject: str
    reason: str = ""
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


def change_record_dict(record: ChangeRecord) -> dict[str, Any]:
    """A record as a plain dict (the JSON-lines and store shape)."""
    return {
        "t": record.t,
        "kind": record.kind.value,
        "actor": record.actor,
        "subject": record.subject,
        "reason": record.reason,
        "details": dict(record.details),
    }
