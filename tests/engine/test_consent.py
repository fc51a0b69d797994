"""The consent gate: only consented tags get a student index; no trace of the others."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import box

from engine.batches import PositionBatch, ReadingBatch
from engine.consent import ConsentGate
from engine.engine import Engine
from engine.events import Alert, AlertState, Severity
from engine.roster import Consent
from engine.zone_state import BatchRejectedError
from geometry.model import Floorplan, Level, Site, Zone, ZoneKind
from transports.json_codec import encode_alert, encode_event

SECRET = "tag-no-consent-7f3a"
ROSTER = [Consent("t-a", True), Consent(SECRET, False), Consent("t-b", True)]
TAGS = ["t-a", SECRET, "t-b"]


def plan() -> Floorplan:
    zones = (
        Zone("room", "Room", "L0", ZoneKind.CLASSROOM, box(0, 0, 20, 20)),
        Zone("boiler", "Boiler", "L0", ZoneKind.RESTRICTED, box(30, 0, 40, 10)),
    )
    return Floorplan(Site("s", "School"), (Level("L0", 0, "Ground"),), zones)


class Recorder:
    """A rule evaluator that raises an alert for every event and records what it saw."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.forgotten: list[str] = []

    def on_events(self, events, positions, t):
        out = []
        for e in events:
            self.seen.append(e.tag)
            ev = positions.get(e.tag) if positions is not None else None
            out.append(
                Alert(
                    f"a-{len(self.seen)}",
                    e.t,
                    "r",
                    Severity.INFO,
                    e.tag,
                    e.zone,
                    AlertState.RAISED,
                    evidence=ev,
                )
            )
        if positions is not None:
            self.seen.extend(positions)
        return out

    def on_tick(self, t):
        return []

    def forget(self, tag):
        self.forgotten.append(tag)


def walk(tag_code: int, t0: float, n: int, x0: float, x1: float) -> PositionBatch:
    t = t0 + np.arange(n, dtype=float)
    x = np.linspace(x0, x1, n)
    return PositionBatch.from_arrays(
        t, np.full(n, tag_code), np.zeros(n), x, np.full(n, 5.0), np.full(n, 0.5)
    )


def interleave(*batches: PositionBatch) -> PositionBatch:
    cat = {
        f: np.concatenate([getattr(b, f) for b in batches])
        for f in ("t", "tag", "level", "x", "y", "uncertainty")
    }
    b = PositionBatch.from_arrays(**cat)
    return b.take(np.argsort(b.t, kind="stable"))


def test_gate_maps_only_consented_tags_and_counts_the_rest() -> None:
    gate = ConsentGate(ROSTER)
    assert gate.tags == ["t-a", "t-b"]
    assert gate.lookup(TAGS).tolist() == [0, -1, 1]
    b = ReadingBatch.from_arrays([0, 1, 2, 3], [0, 1, 2, 1], [0, 0, 0, 0], [-60] * 4)
    out = gate.admit_readings(b, TAGS)
    assert out.tag.tolist() == [0, 1] and out.t.tolist() == [0.0, 2.0]
    assert gate.dropped == 2
    with pytest.raises(Exception, match="outside its tag table"):
        gate.admit_readings(ReadingBatch.from_arrays([0], [5], [0], [-60]), TAGS)


def test_no_trace_of_a_non_consented_tag_leaves_the_engine() -> None:
    rules = Recorder()
    eng = Engine(plan(), roster=ROSTER, rules=rules)
    batch = interleave(walk(0, 0, 40, 5, 35), walk(1, 0, 40, 5, 35), walk(2, 0, 40, 35, 5))
    outs = [eng.process_positions(batch, TAGS), eng.advance(1000.0)]
    text = "".join(
        [encode_event(e) for o in outs for e in o.events]
        + [encode_alert(a) for o in outs for a in o.alerts]
        + [repr(o.rejected) for o in outs]
    )
    assert outs[0].events and outs[0].alerts
    assert SECRET not in text
    assert SECRET not in rules.seen
    assert outs[0].rejected["no_consent"] == 40
    assert eng.gate.dropped == 40
    assert SECRET not in eng.tag_ids and eng.zones.capacity >= 2
    assert set(outs[0].positions.tag.tolist()) == {0, 1}  # student indexes of t-a, t-b
    # an error about a bad batch names no tag
    bad = PositionBatch.from_arrays([2000.0, np.nan], [1, 1], [0, 0], [1, 1], [1, 1], [1, 1])
    with pytest.raises(BatchRejectedError) as err:
        eng.process_positions(bad, TAGS)
    assert SECRET not in str(err.value)


def test_withdrawal_stops_processing_at_once_and_forgets() -> None:
    rules = Recorder()
    eng = Engine(plan(), roster=ROSTER, rules=rules)
    out = eng.process_positions(walk(0, 0, 5, 5, 6), TAGS)
    assert [e.kind.value for e in out.events] == ["inside"]
    eng.withdraw_consent("t-a")
    assert rules.forgotten == ["t-a"]
    assert eng.zones.memberships(0) == {}
    out = eng.process_positions(walk(0, 5, 40, 6, 35), TAGS)
    assert out.events == () and out.alerts == () and len(out.positions) == 0
    assert out.rejected["no_consent"] == 40
    assert eng.advance(10_000.0).events == ()  # no stale/lost for a forgotten student
    # consent given again: a fresh student index, nothing joined to the old one
    granted = eng.grant_consent("t-a", by="Ms Day", reason="form returned")
    assert eng.gate.student("t-a") == 2
    assert [(r.kind.value, r.actor, r.subject, r.reason) for r in granted.records] == [
        ("consent_granted", "Ms Day", "t-a", "form returned")
    ]
    out = eng.process_positions(walk(0, 10_001, 1, 5, 5), TAGS)
    assert [(e.kind.value, e.visit) for e in out.events] == [("inside", "t-a:room:1")]


def test_open_mode_admits_every_tag_until_withdrawn() -> None:
    gate = ConsentGate.open()
    assert gate.lookup(["x", "y"]).tolist() == [0, 1]
    gate.withdraw("x")
    assert gate.lookup(["x", "y", "z"]).tolist() == [-1, 1, 2]
    gate.grant("x")
    assert gate.lookup(["x"]).tolist() == [3]


def test_withdrawal_purges_the_locator_too() -> None:
    from tests.engine.test_engine import TAGS as RTAGS
    from tests.engine.test_engine import plan as reader_plan
    from tests.engine.test_engine import readings

    eng = Engine(reader_plan(), roster=[Consent(t, True) for t in RTAGS])
    rb = readings(60.0)
    first = eng.process(rb.take(rb.t < 30.0), RTAGS)
    a = eng.gate.student("a")
    assert a is not None and a in set(first.positions.tag.tolist())
    eng.withdraw_consent("a")
    loc = eng.locator
    assert a not in set(loc._buffer.tag.tolist())
    assert not loc._state.alive[a]
    rest = eng.process(rb.take(rb.t >= 30.0), RTAGS)
    assert a not in set(rest.positions.tag.tolist())
    assert all(e.tag != "a" for e in rest.events)
    assert rest.rejected["no_consent"] == int(((rb.t >= 30.0) & (rb.tag == 0)).sum())
