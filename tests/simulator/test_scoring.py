"""Scoring against the truth: the zone state once a second, transits apart from breaches."""

from __future__ import annotations

import numpy as np

from engine.events import Alert, AlertState, EventKind, Severity, ZoneEvent
from simulator.scoring import MIN_STAY_S, room_timelines, score_breaches, score_zone_state
from simulator.truth import Breach, Segments

ZONES = ["corridor", "boiler", "wing"]
AREA = {"corridor": 40.0, "boiler": 100.0}  # walkable zones only: the wing is a container


def segments(rows: list[tuple[int, float, float, int]]) -> Segments:
    """(person, t0, t1, zone) stands at the origin."""
    col = np.array(rows, dtype=np.float64).T
    zero = np.zeros(len(rows))
    return Segments(
        col[0].astype(np.int32), col[1], col[2], zero, zero, zero, zero,
        np.zeros(len(rows), np.int32), col[3].astype(np.int32),
    )  # fmt: skip


def event(t: float, kind: EventKind, zone: str, tag: str = "a") -> ZoneEvent:
    return ZoneEvent(t, tag, zone, "L0", kind)


def test_the_zone_state_is_scored_each_second_and_no_room_is_wrong() -> None:
    truth = segments([(0, 0.0, 10.0, 0), (0, 10.0, 20.0, 1), (1, 0.0, 20.0, 0)])
    events = [
        event(2.0, EventKind.ENTER, "wing"),  # a container: never the room
        event(2.0, EventKind.ENTER, "corridor"),
        event(13.0, EventKind.ENTER, "boiler"),  # still in the corridor: the smaller wins
        event(15.0, EventKind.EXIT, "corridor"),
    ]
    timelines = room_timelines(events, AREA)
    assert list(timelines["a"][1]) == ["corridor", "corridor", "boiler"]
    # a: corridor right at 2..9 (8 s), boiler wrong at 10..14 (corridor held), right 15..19
    score = score_zone_state(timelines, truth, ["a", "b"], ZONES, ({"a"}, (0.0, 20.0)))
    assert score.seconds == 20 and score.room_accuracy == (8 + 5) / 20
    # b is tracked but the engine never placed it: every second of it is wrong
    both = score_zone_state(timelines, truth, ["a", "b"], ZONES, ({"a", "b"}, (0.0, 20.0)))
    assert both.seconds == 40 and both.room_accuracy == 13 / 40


def alert(t: float, tag: str = "a") -> Alert:
    return Alert(
        f"id-{t}", t, "restricted-areas", Severity.CRITICAL, tag, "boiler", AlertState.RAISED
    )


def test_a_stay_shorter_than_the_minimum_is_a_transit_not_a_breach() -> None:
    short = Breach("restricted-areas", "a", "boiler", 100.0, 100.0, 100.0 + MIN_STAY_S - 1)
    long = Breach("restricted-areas", "a", "boiler", 500.0, 500.0, 600.0)
    missed = Breach("restricted-areas", "b", "boiler", 500.0, 500.0, 560.0)
    score = score_breaches(
        "restricted-areas", [short, long, missed], [alert(104.0), alert(506.0)], 10.0
    )
    assert (score.breaches, score.detected, score.recall) == (2, 1, 0.5)
    assert (score.transits, score.transits_detected) == (1, 1)
    assert score.false_alerts == 0 and score.median_delay_s == 6.0


def test_an_alert_at_the_door_is_an_early_detection_not_a_false_alert() -> None:
    entered = Breach("restricted-areas", "a", "boiler", 100.0, 100.0, 160.0)
    score = score_breaches("restricted-areas", [entered], [alert(97.0), alert(30.0)], 10.0)
    assert (score.detected, score.median_delay_s) == (1, -3.0)
    assert score.false_alerts == 1  # the one long before: the student was not at the door


def test_breaches_of_students_the_engine_cannot_see_are_counted_apart() -> None:
    worn = Breach("restricted-areas", "a", "boiler", 100.0, 100.0, 160.0)
    locker = Breach("restricted-areas", "b", "boiler", 100.0, 100.0, 160.0)
    score = score_breaches("restricted-areas", [worn, locker], [], 10.0, seen={"a"})
    assert (score.breaches, score.detected, score.unseen) == (1, 0, 1)


def test_an_alert_raised_again_during_an_alerted_breach_is_a_repeat_not_false() -> None:
    long = Breach("restricted-areas", "a", "boiler", 100.0, 100.0, 400.0)
    score = score_breaches("restricted-areas", [long], [alert(101.0), alert(250.0)], 10.0)
    assert (score.detected, score.repeats, score.false_alerts) == (1, 1, 0)
