"""Where each student is now, as the engine's zone state knows it: the dashboard's snapshot.

An alert names the zone its rule watches (the classroom a hall pass was for, the safe
area that was left), not where the student is; the people acting on it need the
latter. This reads it from the zone state machine (the zones the student is inside
after hysteresis, with the time of entry) and the last fix (level, x, y, uncertainty,
time), so the page can say "in Toilets L0 since 09:14, +-1.8 m, 2 s ago" or "outside
every zone".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from engine.engine import Engine

SILENCE = ("heard", "stale", "lost")


@dataclass(frozen=True, slots=True)
class Whereabouts:
    """One student's last fix and the zones they are inside (entry time of each)."""

    tag: str
    level: str
    x: float
    y: float
    uncertainty_m: float
    t: float  # time of the last fix (data time, epoch s)
    zones: tuple[tuple[str, float], ...]  # (zone id, entered at)
    silence: str  # heard, stale or lost

    def record(self, coordinates: bool) -> dict[str, object]:
        """As JSON for the page (without x, y when the role may not see coordinates)."""
        out: dict[str, object] = {
            "tag": self.tag,
            "level": self.level,
            "uncertainty_m": round(self.uncertainty_m, 2),
            "t": round(self.t, 3),
            "zones": [{"id": z, "since": round(since, 3)} for z, since in self.zones],
            "silence": self.silence,
        }
        if coordinates:
            out |= {"x": round(self.x, 2), "y": round(self.y, 2)}
        return out


def whereabouts(engine: Engine, tags: Iterable[str]) -> list[Whereabouts]:
    """The whereabouts of those of `tags` the engine has a fix for, in the given order."""
    states = engine.zones
    level_ids = states.index.level_ids
    out = []
    for tag in tags:
        s = engine.gate.student(tag)
        if s is None or s >= states.capacity or math.isnan(states.last_t[s]):
            continue
        level = int(states.last_level[s])
        since = states.inside_since(s)
        out.append(
            Whereabouts(
                tag=tag,
                level=level_ids[level] if level >= 0 else "",
                x=float(states.last_x[s]),
                y=float(states.last_y[s]),
                uncertainty_m=float(states.last_u[s]),
                t=float(states.last_t[s]),
                zones=tuple(sorted(since.items())),
                silence=SILENCE[int(states.silence[s])],
            )
        )
    return out
