"""A simulated safety team for `sts evaluate`: it takes on and closes every alert.

Critical alerts never close themselves (engine/alerts.py), and while an alert for a
(rule, student, zone) is open a new breach of that condition only updates it. A real
team fetches the student and closes the alert; without one, a student's second visit
to the boiler room would fold into the first visit's alert and never be seen. The team
acknowledges and resolves each alert `respond_s` after it was raised (unless the engine
resolved it first); the rules' cooldown then applies as it would on site.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from engine.events import Alert, AlertState
from sts.hub import Hub

TEAM = "safety team (simulated)"


@dataclass(slots=True)
class SafetyTeam:
    """Closes alerts `respond_s` after they are raised; `respond` is called as time passes."""

    respond_s: float = 120.0
    _state: dict[str, AlertState] = field(default_factory=dict)
    _due: list[tuple[float, str]] = field(default_factory=list)
    _seen: int = 0

    def respond(self, hub: Hub, alerts: list[Alert], now: float) -> None:
        """Note the alerts changed since the last call; close those due by `now`."""
        for alert in alerts[self._seen :]:
            if alert.id not in self._state:
                heapq.heappush(self._due, (alert.t + self.respond_s, alert.id))
            self._state[alert.id] = alert.state
        self._seen = len(alerts)
        while self._due and self._due[0][0] <= now:
            _, alert_id = heapq.heappop(self._due)
            if self._state[alert_id] is AlertState.RAISED:
                hub.command("acknowledge", alert_id, TEAM, now)
            if self._state[alert_id] is not AlertState.RESOLVED:
                hub.command("resolve", alert_id, TEAM, now, "student fetched")
            self._seen = len(alerts)
            self._state[alert_id] = AlertState.RESOLVED
