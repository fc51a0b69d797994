"""The alert lifecycle as a transition table, and the book that de-duplicates alerts.

    (none) --raise--> raised --acknowledge--> acknowledged
                        |  \\                      |
                      update resolve            update, resolve
                        v      v                   v
                      raised  resolved          resolved

Every allowed move is a row of `TRANSITIONS`; any other move raises
`IllegalAlertTransitionError` naming the alert, its state and the move. On top of the table:

- critical alerts are never resolved by the system (`SYSTEM`): only a person closes them
  (`CriticalAlertError`), so a student leaving the boiler room does not silence the alert;
- one condition is one alert: while an alert for the same (rule, student, zone) is open, a
  new trigger updates it (evidence, `occurrences`) instead of raising another;
- cooldown: after an alert is resolved, the same (rule, student, zone) cannot raise again
  for `cooldown_s` seconds, or the rule's own cooldown (suppressed triggers are counted);
- alert ids are a hash of (rule, student, zone, raise time): the same input gives the same
  ids, on any worker.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from engine.events import Alert, AlertState, Evidence, Severity
from engine.records import SYSTEM
from geometry.errors import StsError

__all__ = ["SYSTEM"]  # the actor name of the engine's own transitions, re-exported

AlertKey = tuple[str, str, str]  # (rule, tag, zone)


class AlertAction(StrEnum):
    """The moves of the alert lifecycle."""

    RAISE = "raise"
    UPDATE = "update"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


#: (state before, or None for a new alert; action) -> state after. Nothing else is legal.
TRANSITIONS: Mapping[tuple[AlertState | None, AlertAction], AlertState] = MappingProxyType(
    {
        (None, AlertAction.RAISE): AlertState.RAISED,
        (AlertState.RAISED, AlertAction.UPDATE): AlertState.RAISED,
        (AlertState.RAISED, AlertAction.ACKNOWLEDGE): AlertState.ACKNOWLEDGED,
        (AlertState.RAISED, AlertAction.RESOLVE): AlertState.RESOLVED,
        (AlertState.ACKNOWLEDGED, AlertAction.UPDATE): AlertState.ACKNOWLEDGED,
        (AlertState.ACKNOWLEDGED, AlertAction.RESOLVE): AlertState.RESOLVED,
    }
)


class AlertError(StsError):
    """A command about an alert cannot be carried out."""


class IllegalAlertTransitionError(AlertError):
    """The move is not in the lifecycle table from the alert's current state."""

    def __init__(self, alert_id: str, state: AlertState | None, action: AlertAction) -> None:
        self.alert_id, self.state, self.action = alert_id, state, action
        allowed = sorted(a.value for (s, a) in TRANSITIONS if s == state)
        super().__init__(
            f"alert {alert_id}: cannot {action.value} an alert that is "
            f"{state.value if state else 'not raised'}; allowed from there: "
            f"{', '.join(allowed) or 'nothing (it is final)'}"
        )


class CriticalAlertError(AlertError):
    """The system tried to resolve a critical alert; only a person may."""


class UnknownAlertError(AlertError):
    """No alert has this id."""


def transition(alert_id: str, state: AlertState | None, action: AlertAction) -> AlertState:
    """The state after `action` from `state`, or IllegalAlertTransitionError."""
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise IllegalAlertTransitionError(alert_id, state, action) from None


def alert_id(rule: str, tag: str, zone: str, t: float) -> str:
    """A deterministic alert id from what the alert is about and when it was raised."""
    digest = hashlib.blake2b(f"{rule}\x1f{tag}\x1f{zone}\x1f{t!r}".encode(), digest_size=8)
    return f"al-{digest.hexdigest()}"


class AlertBook:
    """Every alert the engine knows, keyed by id, with de-duplication and cooldown."""

    def __init__(
        self, cooldown_s: float = 300.0, per_rule: Mapping[str, float] | None = None
    ) -> None:
        if cooldown_s < 0 or any(v < 0 for v in (per_rule or {}).values()):
            raise ValueError("cooldown_s must be >= 0")
        self.cooldown_s = cooldown_s
        self.per_rule = dict(per_rule or {})  # rule id -> its own cooldown (s)
        self._longest = max([cooldown_s, *self.per_rule.values()])
        self._alerts: dict[str, Alert] = {}
        self._open: dict[AlertKey, str] = {}
        self._open_by_tag: dict[str, set[AlertKey]] = {}  # so per-student checks stay O(1)
        self._last_resolved: dict[AlertKey, float] = {}
        self.suppressed = 0  # triggers dropped by cooldown
        self.deduplicated = 0  # triggers folded into an open alert

    def get(self, alert_id: str) -> Alert:
        """The current value of one alert (UnknownAlertError when there is none)."""
        try:
            return self._alerts[alert_id]
        except KeyError:
            raise UnknownAlertError(f"no alert with id {alert_id!r}; list open alerts") from None

    def open_alert(self, rule: str, tag: str, zone: str) -> Alert | None:
        """The open (raised or acknowledged) alert for this condition, if any."""
        aid = self._open.get((rule, tag, zone))
        return None if aid is None else self._alerts[aid]

    def open_keys(self, tag: str) -> list[AlertKey]:
        """The (rule, tag, zone) keys of one student's open alerts, sorted."""
        return sorted(self._open_by_tag.get(tag, ()))

    def open_alerts(self) -> list[Alert]:
        """Every alert not yet resolved, in raise order (time, then id)."""
        alerts = [self._alerts[a] for a in self._open.values()]
        return sorted(alerts, key=lambda a: (a.raised_at or a.t, a.id))

    def all_alerts(self) -> list[Alert]:
        """Every alert ever raised (latest value of each), in raise order."""
        return sorted(self._alerts.values(), key=lambda a: (a.raised_at or a.t, a.id))

    def trigger(
        self,
        rule: str,
        severity: Severity,
        tag: str,
        zone: str,
        t: float,
        *,
        message: str = "",
        evidence: Evidence | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> Alert | None:
        """Raise an alert for a condition; None when it folds into an open one or cools down."""
        key = (rule, tag, zone)
        open_id = self._open.get(key)
        if open_id is not None:
            current = self._alerts[open_id]
            state = transition(open_id, current.state, AlertAction.UPDATE)
            self._alerts[open_id] = replace(
                current,
                state=state,
                evidence=evidence or current.evidence,
                occurrences=current.occurrences + 1,
            )
            self.deduplicated += 1
            return None
        last = self._last_resolved.get(key)
        cooldown = self.per_rule.get(rule.split("/")[0], self.cooldown_s)
        if last is not None and t - last < cooldown:
            self.suppressed += 1
            return None
        aid = alert_id(rule, tag, zone, t)
        alert = Alert(
            id=aid,
            t=t,
            rule=rule,
            severity=severity,
            tag=tag,
            zone=zone,
            state=transition(aid, None, AlertAction.RAISE),
            message=message,
            evidence=evidence,
            details=MappingProxyType(dict(details or {})),
            raised_at=t,
        )
        self._alerts[aid] = alert
        self._open[key] = aid
        self._open_by_tag.setdefault(tag, set()).add(key)
        return alert

    def acknowledge(self, alert_id: str, by: str, t: float) -> Alert:
        """A person takes the alert on; returns its new value."""
        if not by or by == SYSTEM:
            raise AlertError(f"alert {alert_id}: acknowledge needs the name of the person")
        current = self.get(alert_id)
        state = transition(alert_id, current.state, AlertAction.ACKNOWLEDGE)
        new = replace(current, t=t, state=state, acknowledged_by=by, acknowledged_at=t)
        self._alerts[alert_id] = new
        return new

    def resolve(self, alert_id: str, by: str, t: float, reason: str = "") -> Alert:
        """Close the alert; `by` is a person, or SYSTEM for conditions that cleared."""
        if not by:
            raise AlertError(f"alert {alert_id}: resolve needs the name of the person")
        current = self.get(alert_id)
        state = transition(alert_id, current.state, AlertAction.RESOLVE)
        if by == SYSTEM and current.severity == Severity.CRITICAL:
            raise CriticalAlertError(
                f"alert {alert_id} is critical: only a person may resolve it, not the system"
            )
        new = replace(current, t=t, state=state, resolved_at=t, resolved_by=by, resolution=reason)
        self._alerts[alert_id] = new
        key = (current.rule, current.tag, current.zone)
        del self._open[key]
        keys = self._open_by_tag[current.tag]
        keys.discard(key)
        if not keys:
            del self._open_by_tag[current.tag]
        self._last_resolved[key] = t
        return new

    def prune(self, before: float) -> int:
        """Drop resolved alerts closed before `before` (sinks have them); returns how many.

        Open alerts are never pruned, and neither are cooldowns still running.
        """
        gone = [
            a.id
            for a in self._alerts.values()
            if a.state == AlertState.RESOLVED and (a.resolved_at or a.t) < before
        ]
        for aid in gone:
            del self._alerts[aid]
        horizon = before - self._longest
        for key in [k for k, t in self._last_resolved.items() if t < horizon]:
            del self._last_resolved[key]
        return len(gone)

    def restore(self, alert: Alert) -> None:
        """Take back an alert a store kept (after a restart): open ones fold new triggers
        of their condition, resolved ones start its cooldown again."""
        self._alerts[alert.id] = alert
        key = (alert.rule, alert.tag, alert.zone)
        if alert.state is AlertState.RESOLVED:
            self._last_resolved[key] = alert.resolved_at or alert.t
        else:
            self._open[key] = alert.id
            self._open_by_tag.setdefault(alert.tag, set()).add(key)

    def forget(self, tag: str) -> None:
        """Erase every alert about a tag (consent withdrawn: its history goes too)."""
        gone = [a.id for a in self._alerts.values() if a.tag == tag]
        for aid in gone:
            del self._alerts[aid]
        for key in self._open_by_tag.pop(tag, set()):
            del self._open[key]
        for key in [k for k in self._last_resolved if k[1] == tag]:
            del self._last_resolved[key]

    def clear(self, rule: str, tag: str, zone: str, t: float, reason: str) -> Alert | None:
        """The condition behind an alert ended: the system resolves it unless it is critical.

        A critical alert stays open (a person decides); the time the condition cleared is
        recorded in its details so the person sees it. Returns the resolved alert or None.
        """
        current = self.open_alert(rule, tag, zone)
        if current is None:
            return None
        if current.severity == Severity.CRITICAL:
            if "condition_cleared_at" not in current.details:
                details = {**current.details, "condition_cleared_at": t}
                self._alerts[current.id] = replace(current, details=MappingProxyType(details))
            return None
        return self.resolve(current.id, SYSTEM, t, reason)


def alert_record(alert: Alert) -> dict[str, Any]:
    """The alert as a JSON-ready dict with a fixed key order (schema in docs/rules.md)."""
    ev = alert.evidence
    return {
        "id": alert.id,
        "t": alert.t,
        "rule": alert.rule,
        "severity": alert.severity.value,
        "tag": alert.tag,
        "zone": alert.zone,
        "state": alert.state.value,
        "message": alert.message,
        "raised_at": alert.raised_at,
        "acknowledged_by": alert.acknowledged_by or None,
        "acknowledged_at": alert.acknowledged_at,
        "resolved_by": alert.resolved_by or None,
        "resolved_at": alert.resolved_at,
        "resolution": alert.resolution or None,
        "occurrences": alert.occurrences,
        "evidence": None
        if ev is None
        else {
            "x": ev.x,
            "y": ev.y,
            "level": ev.level,
            "uncertainty_m": ev.uncertainty_m,
            "age_s": ev.age_s,
        },
        "details": {k: alert.details[k] for k in sorted(alert.details)},
    }
