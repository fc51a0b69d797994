"""The simulated safety team of `sts evaluate` closes each alert once, when it is due."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from engine.events import Alert, AlertState, Severity
from sts.safety_team import TEAM, SafetyTeam


@dataclass
class Recorder:
    """Stands in for the hub: records the commands the team gives."""

    commands: list[tuple[Any, ...]] = field(default_factory=list)

    def command(self, name: str, *args: Any) -> None:
        self.commands.append((name, *args))


def raised(aid: str, t: float) -> Alert:
    return Alert(aid, t, "restricted-areas", Severity.CRITICAL, "a", "boiler", AlertState.RAISED)


def test_the_team_acknowledges_and_resolves_each_open_alert_once_when_due() -> None:
    hub, team = Recorder(), SafetyTeam(respond_s=60.0)
    alerts = [raised("x", 10.0), raised("y", 20.0)]
    team.respond(hub, alerts, 69.0)  # type: ignore[arg-type]
    assert hub.commands == []
    team.respond(hub, alerts, 70.0)  # type: ignore[arg-type]
    assert hub.commands == [
        ("acknowledge", "x", TEAM, 70.0),
        ("resolve", "x", TEAM, 70.0, "student fetched"),
    ]
    # y was closed by the engine before it came due: nothing left to do
    alerts.append(replace(alerts[1], t=30.0, state=AlertState.RESOLVED))
    team.respond(hub, alerts, 500.0)  # type: ignore[arg-type]
    assert len(hub.commands) == 2
