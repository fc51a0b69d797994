"""Engine benchmarks (pytest-benchmark): readings -> alerts, zone updates, JSON encoding.

Run: .venv/bin/pytest benchmarks/bench_engine.py --benchmark-only
The full-size figures (10,000 and 100,000 students, memory) come from
`benchmarks/engine_scale.py`; these are smaller so the suite stays quick.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from engine_scale import campus, hear_all, rules, still_and_walking, walkers

from engine.batches import PositionBatch
from engine.engine import Engine
from engine.roster import Consent
from transports.json_codec import encode_event


def test_readings_to_alerts_2000_students(benchmark: Any) -> None:
    """One second of readings (2,000 badges, 90% still) through the whole engine."""
    n = 2000
    fp = campus(3, 3)
    t, tag, _, x, y = still_and_walking(fp, n, 6, seed=1)
    rb = hear_all(fp, t, tag, x, y, seed=2, sensitivity=-85.0)
    ids = [f"b{i}" for i in range(n)]
    k = np.floor(rb.t).astype(np.int64)
    parts = [rb.take(k == v) for v in np.unique(k)]

    def setup() -> tuple[tuple[Engine, Any], dict[str, Any]]:
        eng = Engine(fp, roster=[Consent(i, True) for i in ids], rules=rules(fp))
        for p in parts[:4]:
            eng.process(p, ids)
        return (eng, parts[4]), {}

    def run(eng: Engine, part: Any) -> None:
        eng.process(part, ids)

    benchmark.pedantic(run, setup=setup, rounds=5)
    benchmark.extra_info["readings"] = len(parts[4])


def test_zone_updates_20000_students(benchmark: Any) -> None:
    """One fix for each of 20,000 walking students through process_positions."""
    n = 20_000
    fp = campus(8, 8, readers=False)
    level, x, y, heading = walkers(fp, n, seed=5)
    ids = [f"b{i}" for i in range(n)]
    students = np.arange(n, dtype=np.int32)

    def fixes(sec: int) -> PositionBatch:
        d = 1.2 * sec
        return PositionBatch.from_arrays(
            np.full(n, float(sec)),
            students,
            level,
            x + d * np.cos(heading),
            y + d * np.sin(heading),
            np.ones(n),
        )

    def setup() -> tuple[tuple[Engine, PositionBatch], dict[str, Any]]:
        eng = Engine(fp, roster=[Consent(i, True) for i in ids])
        eng.process_positions(fixes(0), ids)
        return (eng, fixes(1)), {}

    benchmark.pedantic(lambda eng, b: eng.process_positions(b, ids), setup=setup, rounds=5)


def test_encode_10000_events(benchmark: Any) -> None:
    """events.jsonl lines for 10,000 zone events."""
    n = 10_000
    fp = campus(4, 4, readers=False)
    level, x, y, _ = walkers(fp, n, seed=3)
    eng = Engine(fp)
    ids = [f"b{i}" for i in range(n)]
    b = PositionBatch.from_arrays(np.zeros(n), np.arange(n), level, x, y, np.ones(n))
    events = eng.process_positions(b, ids).events
    benchmark(lambda: [encode_event(e) for e in events])
