"""A staff room beside a corridor, through the engine: fixes that blink into the room or
are pulled into it from the corridor raise no "more than 2 minutes" alert; a stay does."""

from __future__ import annotations

import numpy as np
from shapely.geometry import box

from engine.batches import PositionBatch
from engine.engine import Engine
from engine.events import Alert, Severity
from engine.rules import Rule, RulesConfig, RuleSet, RuleType
from engine.zone_state import Hysteresis, KindHysteresis
from geometry.model import Floorplan, Level, Reader, Site, Zone, ZoneKind

TAGS = ["blink", "pulled", "stays", "stays-uncertain"]
CORRIDOR_Y, ROOM_Y = 2.0, 9.0  # the corridor is 4 m wide; 5 m inside the 10 x 10 m room
EDGE_Y = 3.5  # 0.5 m short of the room's wall: within the band of any fix, never clearly out
STAFF_ONLY = KindHysteresis(
    frozenset({"staff_only"}), dwell_s=3.0, band_m=2.0, max_uncertainty_m=4.0,
    uncertain_dwell_s=30.0,
)  # fmt: skip


def plan() -> Floorplan:
    zones = (
        Zone("corridor", "Corridor", "L0", ZoneKind.CORRIDOR, box(0, 0, 40, 4)),
        Zone("staff-room", "Staff room", "L0", ZoneKind.STAFF_ONLY, box(0, 4, 10, 14)),
    )
    readers = (Reader("r0", "L0", 5.0, 2.0), Reader("r1", "L0", 5.0, 9.0))
    return Floorplan(Site("s", "School"), (Level("L0", 0, "Ground"),), zones, readers)


def run(by_kind: tuple[KindHysteresis, ...]) -> list[Alert]:
    """Five minutes of fixes once a second for each of TAGS; the alerts raised."""
    fp = plan()
    rule = Rule(
        "staff-only", RuleType.RESTRICTED_ZONE, Severity.WARNING,
        kinds=frozenset({ZoneKind.STAFF_ONLY}), after_s=120.0,
    )  # fmt: skip
    engine = Engine(
        fp, rules=RuleSet(RulesConfig(rules=(rule,)), fp), hysteresis=Hysteresis(by_kind=by_kind)
    )
    alerts: list[Alert] = []
    for t in np.arange(0.0, 300.0):
        y, u = zip(*(where(tag, t) for tag in TAGS), strict=True)
        n = len(TAGS)
        batch = PositionBatch.from_arrays([t] * n, range(n), [0] * n, [5.0] * n, y, u)
        alerts += engine.process_positions(batch, TAGS).alerts
    return alerts


def where(tag: str, t: float) -> tuple[float, float]:
    """(y, uncertainty) of a tag's fix at t: x is 5 m for all."""
    if tag == "blink":  # in the corridor; one fix a minute lands 5 m inside the room
        return (ROOM_Y if t % 60 == 30 else CORRIDOR_Y), 2.0
    if tag == "pulled":  # in the corridor; uncertain fixes pulled in, 8 s of every 12
        return (ROOM_Y if t % 12 < 8 else EDGE_Y), 5.0
    if tag == "stays":  # walks in at 10 s, stays
        return (ROOM_Y if t >= 10 else CORRIDOR_Y), 2.0
    return (ROOM_Y if t >= 10 else CORRIDOR_Y), 5.0  # the same, with uncertain fixes


def test_blinks_and_pulled_fixes_raise_nothing_a_stay_raises_after_two_minutes() -> None:
    alerts = run((STAFF_ONLY,))
    # a certain stay: entered on the dwell (10 + 3 s), two minutes later
    # an uncertain stay: the room is not blind to it, 30 s of fixes inside confirm it
    assert [(a.tag, a.t) for a in alerts] == [("stays", 133.0), ("stays-uncertain", 160.0)]


def test_without_the_uncertain_dwell_the_pulled_fixes_hold_the_corridor_badge_inside() -> None:
    engine_dwell = KindHysteresis(frozenset({"staff_only"}), dwell_s=3.0, band_m=2.0)
    tags = {a.tag for a in run((engine_dwell,))}
    assert tags == {"pulled", "stays", "stays-uncertain"}
