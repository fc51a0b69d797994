"""Engine at live shapes (pytest-benchmark): one 1 s tick of `Engine.process` on Northfield.

Run: .venv/bin/pytest benchmarks/bench_engine_ticks.py --benchmark-only \
         --benchmark-columns=min,median,max,rounds -q

Each round is the next second of the stream (the engine carries its state on, as live),
so min / median / max are over ticks; the first 10 s are fed before timing. The world is
`engine_ticks.py`'s (90% of the badges still, 10% walking, about 8 readers per badge);
that script gives p50 / p99 per tick with the other core idle and busy, and the targets.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from engine_ticks import live_readings, live_site, ticks

WARM = 10


@pytest.mark.parametrize(("badges", "seconds"), [(40, 130), (1000, 70), (10_000, 25)])
def test_engine_tick(benchmark: Any, badges: int, seconds: int) -> None:
    """One second of readings of `badges` badges through the whole engine."""
    site = live_site(badges)
    parts = ticks(live_readings(site, seconds))
    for part in parts[:WARM]:
        site.engine.process(part, site.tag_ids)
    stream = iter(parts[WARM:])

    def next_tick() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (next(stream),), {}

    benchmark.pedantic(
        lambda part: site.engine.process(part, site.tag_ids),
        setup=next_tick,
        rounds=len(parts) - WARM,
    )
    benchmark.extra_info["readings_per_tick"] = sum(map(len, parts)) / len(parts)
