"""RuleSet throughput: zone events per second through every rule type, and a tick's cost,
with 10,000 students on a small campus. Run: .venv/bin/pytest benchmarks/bench_rules.py
--benchmark-only."""

from __future__ import annotations

from typing import Any

from engine.events import EventKind, Evidence, Severity, ZoneEvent
from engine.rules import Rule, RulesConfig, RuleSet, RuleType
from geometry.model import ZoneKind
from tests.engine.small_world import at, floorplan, timetable

N = 10_000
EVIDENCE = Evidence(5.0, 5.0, "L0", 2.0, 0.5)


def _ruleset() -> RuleSet:
    rules = (
        Rule(
            "restricted",
            RuleType.RESTRICTED_ZONE,
            Severity.CRITICAL,
            kinds=frozenset({ZoneKind.RESTRICTED}),
        ),
        Rule(
            "stay-inside",
            RuleType.SAFE_AREA_LEFT,
            Severity.CRITICAL,
            groups=frozenset({"7A"}),
            after_s=60,
        ),
        Rule(
            "restroom",
            RuleType.DWELL_LIMIT,
            Severity.WARNING,
            kinds=frozenset({ZoneKind.RESTROOM}),
            after_s=600,
        ),
        Rule("in-class", RuleType.NOT_IN_TIMETABLED_ROOM, Severity.WARNING, after_s=600),
        Rule("lost", RuleType.BADGE_LOST, Severity.WARNING),
        Rule(
            "hall",
            RuleType.HALL_PASS,
            Severity.WARNING,
            groups=frozenset({"7A", "8B"}),
            max_out=3,
            max_out_s=600,
        ),
    )
    groups = {f"s{i}": ("7A" if i % 2 else "8B") for i in range(N)}
    rs = RuleSet(RulesConfig(rules), floorplan(), timetable=timetable(), tag_groups=groups)
    start = [
        ZoneEvent(at(8, 50), f"s{i}", "campus", "L0", EventKind.INSIDE, evidence=EVIDENCE)
        for i in range(N)
    ]
    rs.on_events(start, None, at(8, 50))
    return rs


def _morning() -> list[list[ZoneEvent]]:
    """Batches of 1,000 events: every student walks corridor -> room -> restroom -> room."""
    batches = []
    for step, (zone, kind) in enumerate(
        [
            ("hall", "enter"),
            ("hall", "exit"),
            ("room-a", "enter"),
            ("room-a", "exit"),
            ("wc", "enter"),
            ("wc", "exit"),
            ("room-a", "enter"),
        ]
    ):
        events = [
            ZoneEvent(at(9, 1 + step), f"s{i}", zone, "L0", EventKind(kind), evidence=EVIDENCE)
            for i in range(N)
        ]
        batches += [events[j : j + 1000] for j in range(0, N, 1000)]
    return batches


def test_rules_events_per_second(benchmark: Any) -> None:
    batches = _morning()

    def run() -> int:
        rs = _ruleset()
        n = 0
        for b in batches:
            rs.on_events(b, None, b[-1].t)
            n += len(b)
        return n

    n = benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info["events"] = n


def test_rules_tick_10k_students(benchmark: Any) -> None:
    rs = _ruleset()
    t = [at(9, 30)]

    def tick() -> None:
        t[0] += 1.0
        rs.on_tick(t[0])

    benchmark(tick)
