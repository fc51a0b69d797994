"""Ground truth: positions between segment ends, visits, and which visits are breaches."""

from __future__ import annotations

import numpy as np
from shapely.geometry import box

from engine.events import Severity
from engine.rules import Rule, RulesConfig, RuleType
from geometry.model import Zone, ZoneKind
from simulator.truth import SegmentLog, true_breaches, visits_of


def _log() -> SegmentLog:
    log = SegmentLog()
    log.add(0, 100.0, 100.0, 1.0, 1.0, 1.0, 1.0, 0, 0)  # stands in zone 0
    log.add(0, 150.0, 160.0, 1.0, 1.0, 11.0, 1.0, 0, 0)  # walks 10 m east
    log.add(0, 160.0, 400.0, 11.0, 1.0, 11.0, 1.0, 0, 1)  # stays in zone 1
    log.add(1, 90.0, 90.0, 5.0, 5.0, 5.0, 5.0, 1, 0)
    return log


def test_positions_between_and_after_segments():
    seg = _log().take()
    x, _, level, zone = seg.at(
        np.array([0, 0, 0, 1, 1], np.int32), np.array([120.0, 155.0, 999.0, 95.0, 50.0])
    )
    assert x[:4].tolist() == [1.0, 6.0, 11.0, 5.0]
    assert zone.tolist() == [0, 0, 1, 0, -1]  # before its first segment a badge is nowhere
    assert level.tolist() == [0, 0, 0, 1, -1]


def test_visits_merge_segments_and_breaches_wait_for_the_grace():
    visits = visits_of(_log().take())
    assert [(v.tag, v.zone, v.t_in, v.t_out) for v in visits] == [
        (0, 0, 100.0, 160.0),
        (0, 1, 160.0, 400.0),
        (1, 0, 90.0, 90.0),
    ]
    zones = [
        Zone("room", "room", "L0", ZoneKind.CLASSROOM, box(0, 0, 10, 10)),
        Zone("boiler", "boiler", "L0", ZoneKind.RESTRICTED, box(10, 0, 20, 10)),
    ]
    quick = Rule(
        "r", RuleType.RESTRICTED_ZONE, Severity.CRITICAL, kinds=frozenset({ZoneKind.RESTRICTED})
    )
    slow = Rule(
        "s",
        RuleType.RESTRICTED_ZONE,
        Severity.WARNING,
        kinds=frozenset({ZoneKind.RESTRICTED}),
        after_s=600,
    )
    found = true_breaches(visits, zones, ["a", "b"], ["Y7", "Y7"], RulesConfig((quick, slow)), None)
    assert [(b.rule, b.tag, b.zone, b.t) for b in found] == [("r", "a", "boiler", 160.0)]
