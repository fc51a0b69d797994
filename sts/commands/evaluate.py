"""`sts evaluate DIR`: how well the engine did on a simulated day, against the ground truth.

Replays the recording of DIR (written by `sts simulate`) through the engine as fast as
possible, with the campus's calibration.toml (or `--calibration`, or none with
`--no-calibration`) and a simulated safety team that closes each alert `--respond`
seconds after it is raised. Then compares: room-level accuracy of the engine's zone
state (after hysteresis: what a safety team sees), positioning error (median, p90),
room-level and floor accuracy of the fixes, and for each restricted-zone, safe-area and
dwell rule the recall, precision and detection delay of its alerts against the breaches
that really happened (stays under 10 s are transits, counted apart), with false alerts
per 1,000 student-hours. Printed as a table; `--json` keeps it.
Definitions: docs/simulator.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from simulator.scoring import MIN_STAY_S
from sts.evaluation import EvaluateOptions, Evaluation, evaluate
from sts.scenario_args import add_source, calibration_from
from sts.simulation import TRUTH


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `evaluate` sub-command."""
    p = subparsers.add_parser(
        "evaluate",
        help="score the engine on a simulated day against its ground truth",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source(p)
    p.add_argument(
        "--respond",
        type=float,
        default=120.0,
        metavar="S",
        help="the simulated safety team closes each alert S seconds after it is raised (120)",
    )
    p.add_argument("--json", type=Path, help="also write the figures as JSON")
    p.set_defaults(run=run)


NOMINAL = "none (the plan's nominal reader model)"


def format_table(ev: Evaluation) -> str:
    """The evaluation as a plain-text table."""
    p, z = ev.positioning, ev.zone_state
    lines = [
        f"calibration: {ev.calibration or NOMINAL}",
        "",
        f"{'zone state (after hysteresis)':<32} {'value':>10}",
        f"{'student-seconds scored':<32} {z.seconds:>10,}",
        f"{'room-level accuracy':<32} {z.room_accuracy:>10.1%}",
        "",
        f"{'fixes':<32} {'value':>10}",
        f"{'fixes scored':<32} {p.fixes:>10,}",
        f"{'error median (m)':<32} {p.median_error_m:>10.2f}",
        f"{'error p90 (m)':<32} {p.p90_error_m:>10.2f}",
        f"{'room-level accuracy of fixes':<32} {p.room_accuracy:>10.1%}",
        f"{'floor accuracy':<32} {p.floor_accuracy:>10.1%}",
        "",
        f"{'rule':<22} {'breaches':>8} {'detected':>8} {'recall':>7} {'alerts':>6} "
        f"{'precision':>9} {'delay p50':>9} {'delay p90':>9} {'false/1000 h':>12} "
        f"{'repeats':>7} {'transits':>8} {'unseen':>6}",
    ]
    for b in ev.breaches:
        lines.append(
            f"{b.rule:<22} {b.breaches:>8} {b.detected:>8} {b.recall:>7.1%} {b.alerts:>6} "
            f"{b.precision:>9.1%} {b.median_delay_s:>8.1f}s {b.p90_delay_s:>8.1f}s "
            f"{b.false_per_1000_student_hours:>12.2f} "
            f"{b.repeats:>7} {f'{b.transits_detected}/{b.transits}':>8} {b.unseen:>6}"
        )
    lines.append(
        f"\n{ev.student_hours:.1f} student-hours; breaches: stays of at least "
        f"{MIN_STAY_S:g} s; transits: shorter stays (alerted/all), not in recall;\n"
        "repeats: alerts raised again during a breach already alerted (not false);\n"
        "unseen: breaches of students without consent or a working badge (dead, in a "
        "locker), not in recall"
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the table."""
    if not args.respond >= 0:
        print("sts: --respond must be a number of seconds, 0 or more", file=sys.stderr)
        return 2
    options = EvaluateOptions(args.campus, calibration_from(args), respond_s=args.respond)
    ev = evaluate(args.dir, options)
    print(format_table(ev))
    if args.json:
        doc = {
            "calibration": ev.calibration,
            "zone_state": asdict(ev.zone_state),
            "positioning": asdict(ev.positioning),
            "breaches": [
                asdict(b) | {"recall": b.recall, "precision": b.precision} for b in ev.breaches
            ],
            "student_hours": ev.student_hours,
        }
        args.json.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"(truth: {args.dir / TRUTH}; definitions: docs/simulator.md)", file=sys.stderr)
    return 0
