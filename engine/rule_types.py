"""The rule vocabulary: rule types, one rule, a rule set's configuration, default texts.

Rules are data (rules.toml, validated in sts/rules_toml.py); `engine/rules.py`
evaluates them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from engine.events import Severity
from geometry.errors import StsError
from geometry.model import ZoneKind


class RuleType(StrEnum):
    """Every rule type a rules file may use."""

    RESTRICTED_ZONE = "restricted_zone"
    SAFE_AREA_LEFT = "safe_area_left"
    DWELL_LIMIT = "dwell_limit"
    NOT_IN_TIMETABLED_ROOM = "not_in_timetabled_room"
    BADGE_LOST = "badge_lost"
    MUSTER_OVERDUE = "muster_overdue"
    HALL_PASS = "hall_pass"


#: Rule types that decide from one event alone (the only ones alert-only tags may meet).
STATELESS_TYPES: frozenset[RuleType] = frozenset({RuleType.RESTRICTED_ZONE})
#: Rule types that need the timetable (its calendar gives school hours).
TIMETABLE_TYPES: frozenset[RuleType] = frozenset(
    {RuleType.SAFE_AREA_LEFT, RuleType.NOT_IN_TIMETABLED_ROOM, RuleType.HALL_PASS}
)


#: How long the rule set keeps resolved alerts in memory (the sinks keep them for good).
RESOLVED_RETENTION_S = 24 * 3600.0


class RuleError(StsError):
    """A rule set cannot be built or a rule command cannot be carried out."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule. Fields not used by a type keep their defaults (the validator checks)."""

    id: str
    type: RuleType
    severity: Severity
    groups: frozenset[str] = frozenset()  # empty: every group not under the alert-only policy
    zones: frozenset[str] = frozenset()
    kinds: frozenset[ZoneKind] = frozenset()
    levels: frozenset[str] = frozenset()  # with kinds: only zones of these kinds on these levels
    after_s: float = 0.0  # grace / dwell limit / minutes into the period / muster deadline
    max_out: int | None = None  # hall pass: at most this many of a group out at once
    flagged: tuple[tuple[str, str], ...] = ()  # hall pass: pairs never out together
    max_out_s: float | None = None  # hall pass: longest time out of the room
    message: str = ""
    when: str = "always"  # "always", "school_hours" or "outside_school_hours"
    cooldown_s: float | None = None  # None: the rules file's [alerts] cooldown


#: Values of `Rule.when`: when a rule may raise, read from the timetable's calendar.
WHEN: frozenset[str] = frozenset({"always", "school_hours", "outside_school_hours"})


@dataclass(frozen=True, slots=True)
class RulesConfig:
    """A validated rules file."""

    rules: tuple[Rule, ...] = ()
    cooldown_s: float = 300.0
    alert_only_groups: frozenset[str] = frozenset()


#: The default alert text of each rule type (a rule may give its own `message`).
MESSAGES: Mapping[RuleType, str] = {
    RuleType.RESTRICTED_ZONE: "entered a restricted zone",
    RuleType.SAFE_AREA_LEFT: "left the safe area during school hours",
    RuleType.DWELL_LIMIT: "stayed in the zone longer than allowed",
    RuleType.NOT_IN_TIMETABLED_ROOM: "not in the timetabled room",
    RuleType.BADGE_LOST: "badge lost on campus",
    RuleType.MUSTER_OVERDUE: "not at a muster point",
    RuleType.HALL_PASS: "hall-pass limit exceeded",
}
