"""A zone kind's hysteresis against recall, delay and false alerts, on simulated days.

Each setting replaces the rules file's [[zone_hysteresis]] for one kind (`--kind`,
restricted by default; `dwell_s`, optionally a band cap and an uncertainty limit in
metres, and the dwell of entries past that limit; an empty field: no limit, the
engine's dwell), keeps the file's tables of the other kinds, and
evaluates every folder as `sts evaluate` does (the campus's calibration, the simulated
safety team); the figures are those of `--rule`.

    .venv/bin/python benchmarks/restricted_dwell_sweep.py out/day out/breaches \\
        --setting 3 --setting 2 --setting 1 --setting 0 --setting 1,2 --setting 0,1
    .venv/bin/python benchmarks/restricted_dwell_sweep.py out/day out/breaches \\
        --setting 1 --setting 1,,4 --setting 1,,3.5 --setting 0,,3.5
    .venv/bin/python benchmarks/restricted_dwell_sweep.py out/day out/staff \\
        --kind staff_only --rule staff-only-areas --setting 3 --setting 3,2
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.zone_state import Hysteresis, KindHysteresis  # noqa: E402
from sts.evaluation import EvaluateOptions, evaluate  # noqa: E402
from sts.simulation import open_feed  # noqa: E402


def hysteresis(setting: str, kind: str, site_kinds: tuple[KindHysteresis, ...]) -> Hysteresis:
    """`DWELL[,BAND[,MAX_UNCERTAINTY[,UNCERTAIN_DWELL]]]` for one kind, the site's tables
    for the others (the engine's defaults elsewhere; a missing or empty field: no limit,
    the engine's dwell)."""
    dwell, band, max_u, slow = [*setting.split(","), "", "", ""][:4]
    mine = KindHysteresis(
        frozenset({kind}),
        float(dwell),
        float(band) if band else math.inf,
        float(max_u) if max_u else math.inf,
        float(slow) if slow else None,
    )
    others = tuple(k for k in site_kinds if kind not in k.kinds)
    return Hysteresis(by_kind=(mine, *others))


def main() -> int:
    """Print one row per setting and folder."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folders", type=Path, nargs="+", help="folders from `sts simulate`")
    parser.add_argument(
        "--setting", action="append", required=True, help="DWELL[,BAND[,MAX_U[,SLOW]]]"
    )
    parser.add_argument("--kind", default="restricted", help="the zone kind (restricted)")
    parser.add_argument("--rule", default="restricted-areas", help="the rule scored")
    args = parser.parse_args()
    print("setting      folder       room   recall  detected  d50 s  d90 s  false  per 1000 h")
    for setting in args.setting:
        for folder in args.folders:
            site_kinds = open_feed(folder)[1].zone_hysteresis
            h = hysteresis(setting, args.kind, site_kinds)
            ev = evaluate(folder, EvaluateOptions(hysteresis=h))
            b = next(b for b in ev.breaches if b.rule == args.rule)
            print(
                f"{setting:<12} {folder.name:<11} {ev.zone_state.room_accuracy:6.1%} "
                f"{b.recall:7.1%} {b.detected:>4}/{b.breaches:<4} {b.median_delay_s:6.1f} "
                f"{b.p90_delay_s:6.1f} {b.false_alerts:>6} {b.false_per_1000_student_hours:10.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
