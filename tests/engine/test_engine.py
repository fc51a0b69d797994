"""The Engine facade: determinism byte for byte, malformed batches rejected whole with the
state unchanged, rules wiring, alert-only policy, runtime zone commands."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import box

from engine.batches import PositionBatch, ReadingBatch
from engine.engine import Engine, EngineOutput, NoRulesError, RuleEvaluator
from engine.events import Severity
from engine.zone_state import BatchRejectedError
from geometry.model import Floorplan, Level, Reader, Site, Zone, ZoneKind
from simulator.scripted_walks import RadioModel, Walk, hear, sample_truth
from transports.json_codec import encode_alert, encode_event

TAGS = ["a", "b", "c"]


def plan() -> Floorplan:
    zones = (
        Zone("room", "Room", "L0", ZoneKind.CLASSROOM, box(0, 0, 20, 20)),
        Zone("hall", "Hall", "L0", ZoneKind.CORRIDOR, box(20, 0, 60, 8)),
        Zone("boiler", "Boiler", "L0", ZoneKind.RESTRICTED, box(40, 8, 60, 20)),
    )
    xy = [(0, 0), (20, 0), (0, 20), (20, 20), (40, 0), (60, 0), (40, 20), (60, 20), (10, 10)]
    readers = tuple(Reader(f"r{i}", "L0", float(x), float(y)) for i, (x, y) in enumerate(xy))
    return Floorplan(Site("s", "School"), (Level("L0", 0, "Ground"),), zones, readers)


def walks() -> list[Walk]:
    return [
        Walk("a", (0, 30, 70, 400), (5, 5, 50, 50), (5, 5, 14, 14), ("L0",) * 4),  # -> boiler
        Walk("b", (0, 400), (10, 10), (10, 10), ("L0",) * 2),  # sits in the room
        Walk("c", (0, 50, 90, 400), (30, 30, 8, 8), (4, 4, 10, 10), ("L0",) * 4),  # hall -> room
    ]


def readings(t1: float = 150.0) -> ReadingBatch:
    truth = sample_truth(walks(), ["L0"], 0.0, t1, 1.0)
    return hear(truth, plan(), RadioModel(), seed=3)


def positions(t1: float = 150.0) -> PositionBatch:
    tr = sample_truth(walks(), ["L0"], 0.0, t1, 1.0)
    u = np.full(len(tr.t), 1.0)
    return PositionBatch.from_arrays(np.round(tr.t, 3), tr.tag, tr.level, tr.x, tr.y, u)


def serialise(outs: list[EngineOutput]) -> bytes:
    lines = [encode_event(e) for o in outs for e in o.events]
    lines += [encode_alert(a) for o in outs for a in o.alerts]
    return "\n".join(lines).encode()


def rules_for(fp: Floorplan):
    from engine.rules import Rule, RulesConfig, RuleSet, RuleType

    rule = Rule(
        "boiler-room", RuleType.RESTRICTED_ZONE, Severity.CRITICAL, zones=frozenset({"boiler"})
    )
    return RuleSet(RulesConfig(rules=(rule,)), fp)


def split_by_time(batch, step: float):
    k = np.floor(batch.t / step)
    for v in np.unique(k):
        yield batch.take(k == v)


def run_readings(step: float | None) -> list[EngineOutput]:
    fp = plan()
    eng = Engine(fp, rules=rules_for(fp))
    rb = readings()
    parts = [rb] if step is None else list(split_by_time(rb, step))
    outs = [eng.process(p, TAGS) for p in parts]
    outs.append(eng.flush())
    outs.append(eng.advance(1000.0))
    return outs


def test_readings_to_alerts_deterministic_byte_for_byte_and_split_invariant() -> None:
    one = serialise(run_readings(None))
    assert one == serialise(run_readings(None))
    assert one == serialise(run_readings(7.0))
    assert one == serialise(run_readings(1.0))
    text = one.decode()
    assert '"kind":"enter"' in text and '"zone":"boiler"' in text
    assert '"rule":"boiler-room"' in text and '"severity":"critical"' in text


def test_positions_path_is_split_invariant() -> None:
    def run(step):
        eng = Engine(plan())
        pb = positions()
        parts = [pb] if step is None else list(split_by_time(pb, step))
        return serialise([eng.process_positions(p, TAGS) for p in parts] + [eng.advance(999.0)])

    one = run(None)
    assert one == run(3.0) == run(0.5)
    assert b'"kind":"cross"' not in one  # 1 Hz walking never jumps a zone


def engine_state(eng: Engine) -> dict:
    snap = {f"zones.{k}": v for k, v in eng.zones.snapshot().items()}
    snap.update(clock=eng.clock, dropped=eng.gate.dropped, students=list(eng.gate.tags))
    loc = eng._locator
    if loc is not None:
        snap.update(
            watermark=loc._watermark,
            buffer=loc._buffer.t.copy(),
            next_k=loc._next_k,
            rejected=dict(loc.rejected_total),
        )
    return snap


def same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], dict | list):
            assert a[k] == b[k], k
        else:
            assert np.array_equal(np.asarray(a[k]), np.asarray(b[k]), equal_nan=True), k


def unchecked(cls, **cols):
    """A batch built around the dataclass checks, as a buggy producer might."""
    b = object.__new__(cls)
    for k, v in cols.items():
        object.__setattr__(b, k, v)
    return b


BAD_READINGS = [
    (ReadingBatch.from_arrays([200.0, np.nan], [0, 1], [0, 0], [-60, -60]), "not finite"),
    (ReadingBatch.from_arrays([200.0, 150.0], [0, 1], [0, 0], [-60, -60]), "out of order"),
    (ReadingBatch.from_arrays([10.0], [0], [0], [-60]), "out of order"),  # older than the stream
    (ReadingBatch.from_arrays([200.0], [7], [0], [-60]), "tag table"),
    (
        unchecked(
            ReadingBatch,
            t=np.array([200.0, 201.0]),
            tag=np.array([0], np.int32),
            reader=np.array([0, 0], np.int32),
            rssi=np.array([-60.0, -60.0], np.float32),
        ),
        "rows",
    ),
]


@pytest.mark.parametrize("bad, reason", BAD_READINGS)
def test_malformed_reading_batch_rejected_whole_state_unchanged(bad, reason) -> None:
    fp = plan()
    eng = Engine(fp, rules=rules_for(fp))
    eng.process(readings(60.0), TAGS)
    before = engine_state(eng)
    with pytest.raises(BatchRejectedError, match=reason):
        eng.process(bad, TAGS)
    same_state(before, engine_state(eng))
    # and the engine goes on as if the bad batch never came
    ref = Engine(fp, rules=rules_for(fp))
    ref.process(readings(60.0), TAGS)
    more = readings(90.0)
    more = more.take(more.t >= 60.0)
    assert serialise([eng.process(more, TAGS)]) == serialise([ref.process(more, TAGS)])


@pytest.mark.parametrize(
    "bad, reason",
    [
        (
            PositionBatch.from_arrays([200.0, np.nan], [0, 1], [0, 0], [1, 1], [1, 1], [1, 1]),
            "t is",
        ),
        (PositionBatch.from_arrays([200.0], [0], [0], [np.inf], [1], [1]), "x is"),
        (
            PositionBatch.from_arrays([200.0, 100.0], [0, 1], [0, 0], [1, 1], [1, 1], [1, 1]),
            "order",
        ),
        (PositionBatch.from_arrays([200.0], [0], [3], [1], [1], [1]), "level"),
        (PositionBatch.from_arrays([200.0], [9], [0], [1], [1], [1]), "tag table"),
    ],
)
def test_malformed_position_batch_rejected_whole_state_unchanged(bad, reason) -> None:
    eng = Engine(plan())
    eng.process_positions(positions(150.0), TAGS)
    before = engine_state(eng)
    with pytest.raises(BatchRejectedError, match=reason):
        eng.process_positions(bad, TAGS)
    same_state(before, engine_state(eng))


class Recorder:
    def __init__(self, alert_only=frozenset()) -> None:
        self.alert_only_tags = frozenset(alert_only)
        self.events: list = []
        self.ticks: list[float] = []
        self.zone_sets: list[tuple[str, ...]] = []

    def on_events(self, events, positions, t):
        self.events.extend(events)
        return []

    def on_tick(self, t):
        self.ticks.append(t)
        return []

    def set_zones(self, zones):
        self.zone_sets.append(tuple(z.id for z in zones))


def test_recorder_is_a_rule_evaluator() -> None:
    assert isinstance(Recorder(), RuleEvaluator)


def test_alert_only_tags_reach_the_rules_but_never_the_output() -> None:
    rec = Recorder(alert_only={"b"})
    eng = Engine(plan(), rules=rec)
    out = eng.process_positions(positions(), TAGS)
    assert {e.tag for e in out.events} == {"a", "c"}
    assert "b" in {e.tag for e in rec.events}
    b_index = eng.gate.student("b")
    assert b_index is not None and b_index not in set(out.positions.tag.tolist())


def test_zone_commands_emit_at_once_and_tell_the_rules() -> None:
    rec = Recorder()
    eng = Engine(plan(), rules=rec)
    eng.process_positions(positions(20.0), TAGS)
    fence = Zone("fence", "Incident fence", "L0", ZoneKind.RESTRICTED, box(0, 0, 15, 15))
    out = eng.add_zone(fence)
    assert {(e.tag, e.kind.value, e.zone) for e in out.events} == {
        ("a", "inside", "fence"),
        ("b", "inside", "fence"),
    }
    assert "fence" in rec.zone_sets[-1]
    out = eng.remove_zone("fence")
    assert sorted((e.tag, e.kind.value) for e in out.events) == [("a", "exit"), ("b", "exit")]
    assert "fence" not in rec.zone_sets[-1]
    out = eng.advance(500.0)
    assert {e.kind.value for e in out.events} == {"stale", "lost"}
    eng.advance(600.0)
    assert rec.ticks == [600.0]


def test_rule_commands_without_rules_say_so() -> None:
    eng = Engine(plan())
    with pytest.raises(NoRulesError, match="no rules"):
        eng.acknowledge("x", "Ms Day", 1.0)


def test_rules_get_the_latest_fix_as_evidence() -> None:
    fp = plan()
    eng = Engine(fp, rules=rules_for(fp))
    outs = [eng.process_positions(p, TAGS) for p in split_by_time(positions(), 1.0)]
    alerts = [a for o in outs for a in o.alerts]
    assert [(a.tag, a.zone, a.state.value) for a in alerts] == [("a", "boiler", "raised")]
    ev = alerts[0].evidence
    assert ev is not None and ev.uncertainty_m == 1.0 and ev.level == "L0"
    assert 40 <= ev.x <= 60 and 8 <= ev.y <= 20


def test_zone_command_before_any_data_needs_a_time() -> None:
    from geometry.errors import InputError

    eng = Engine(plan())
    fence = Zone("fence", "Fence", "L0", ZoneKind.RESTRICTED, box(0, 0, 5, 5))
    with pytest.raises(InputError, match="give the command's time"):
        eng.add_zone(fence)
    assert eng.add_zone(fence, 10.0).events == ()
    assert "fence" in eng.index
