"""`sts floorplan validate|render`: check a floorplan (or IMDF archive) and draw it.

validate  prints a summary (levels, zones by kind, readers, doors, warnings), or with
          `--json` one JSON document listing every level, zone, reader, door and warning.
          A plan with errors prints every problem and exits 2 (`{"ok": false, ...}` with
          `--json`). Warnings (small digitising defects STS repairs) do not fail it.
render    draws every level (or `--level ID`) to FILE.png or FILE.svg (sts.render).

Formats: docs/cli.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geometry.errors import FloorplanError, Problem, StsError
from geometry.model import Floorplan, OpeningKind, ZoneKind
from sts.output_files import replace_on_success

if TYPE_CHECKING:
    from sts.floorplan_io import LoadedFloorplan


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `floorplan` sub-command with its `validate` and `render` actions."""
    p = subparsers.add_parser(
        "floorplan",
        help="validate or render a floorplan (project GeoJSON or IMDF folder/zip)",
        description="Validate or render a floorplan. Formats in docs/floorplan-format.md.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    v = actions.add_parser(
        "validate",
        help="check a floorplan and summarise it",
        description=(
            "Load and check a floorplan: print a summary (levels, zones by kind, readers, "
            "doors, warnings). Every problem is listed at once; errors exit with code 2."
        ),
    )
    v.add_argument("path", type=Path, help="floorplan.geojson, its folder, or an IMDF folder/zip")
    v.add_argument(
        "--json", action="store_true", help="print one JSON document (levels, zones, readers...)"
    )
    v.set_defaults(run=run_validate)
    r = actions.add_parser(
        "render",
        help="draw a floorplan to PNG or SVG",
        description=(
            "Draw the floorplan: zones coloured by kind with their names, readers as "
            "triangles, doors as short thick segments coloured by kind, one panel per level."
        ),
    )
    r.add_argument("path", type=Path, help="floorplan.geojson, its folder, or an IMDF folder/zip")
    r.add_argument("-o", "--out", required=True, type=Path, help="FILE.png or FILE.svg")
    r.add_argument("--level", help="draw only this level (its id, e.g. L0)")
    r.set_defaults(run=run_render)


def _load(path: Path) -> LoadedFloorplan:
    """The floorplan at `path` (FloorplanError with every problem when it is broken)."""
    from sts.floorplan_io import load_floorplan

    return load_floorplan(path)


def _r(v: float) -> float:
    """A coordinate rounded to the millimetre (stable JSON)."""
    return round(float(v), 3) + 0.0  # + 0.0 turns -0.0 into 0.0


def _problem_json(p: Problem) -> dict[str, str]:
    """One problem as a JSON object."""
    return {
        "severity": p.severity,
        "feature_id": p.feature_id,
        "message": p.message,
        "fix": p.fix,
    }


def floorplan_document(fp: Floorplan, warnings: tuple[Problem, ...], source: str) -> dict[str, Any]:
    """The `validate --json` document of a loaded plan (local frame, metres)."""
    origin = fp.site.origin
    return {
        "ok": True,
        "source": source,
        "site": {
            "id": fp.site.id,
            "name": fp.site.name,
            "origin": None if origin is None else [origin.lon, origin.lat],
        },
        "levels": [{"id": lv.id, "ordinal": lv.ordinal, "name": lv.name} for lv in fp.levels],
        "zones": [
            {
                "id": z.id,
                "name": z.name,
                "kind": z.kind.value,
                "level": z.level,
                "bounds": [_r(b) for b in z.polygon.bounds],
            }
            for z in fp.zones
        ],
        "readers": [
            {"id": r.id, "level": r.level, "x": _r(r.x), "y": _r(r.y), "z": _r(r.z)}
            for r in fp.readers
        ],
        "doors": [
            {
                "id": o.id,
                "kind": o.kind.value,
                "level": o.level,
                "zones": list(o.zones),
                "name": o.name,
            }
            for o in fp.openings
        ],
        "warnings": [_problem_json(w) for w in warnings],
    }


def _counts(values: list[str], order: list[str]) -> str:
    """'a 3, b 1' in the given order (only those present)."""
    c = Counter(values)
    return ", ".join(f"{k} {c[k]}" for k in order if c[k]) or "none"


def summary_text(fp: Floorplan, warnings: tuple[Problem, ...], path: Path, source: str) -> str:
    """The human summary of a loaded plan."""
    lines = [f"{path}: {fp.site.name or fp.site.id} (site {fp.site.id}), read from {source}"]
    if fp.site.origin is not None:
        lines.append(f"  origin: lon {fp.site.origin.lon:.6f}, lat {fp.site.origin.lat:.6f}")
    else:
        lines.append("  origin: none (local coordinates only)")
    lines.append(f"  levels: {len(fp.levels)}")
    for lv in sorted(fp.levels, key=lambda lv: (lv.ordinal, lv.id)):
        nz = sum(1 for z in fp.zones if z.level == lv.id)
        nr = sum(1 for r in fp.readers if r.level == lv.id)
        nd = sum(1 for o in fp.openings if o.level == lv.id)
        lines.append(
            f"    {lv.id} {lv.name!r} (ordinal {lv.ordinal}): {nz} zones, {nr} readers, {nd} doors"
        )
    kinds = [k.value for k in ZoneKind]
    lines.append(f"  zones: {len(fp.zones)} ({_counts([z.kind.value for z in fp.zones], kinds)})")
    lines.append(f"  readers: {len(fp.readers)}")
    okinds = [k.value for k in OpeningKind]
    lines.append(
        f"  doors: {len(fp.openings)} ({_counts([o.kind.value for o in fp.openings], okinds)})"
    )
    lines.append(f"  warnings: {len(warnings)}")
    lines += [f"    {w}" for w in warnings]
    lines.append("OK: no errors")
    return "\n".join(lines)


def run_validate(args: argparse.Namespace) -> int:
    """Load, check and summarise; exit 2 with every problem listed when it is broken."""
    path: Path = args.path
    try:
        loaded = _load(path)
    except FloorplanError as exc:
        if args.json:
            doc = {
                "ok": False,
                "source": exc.source,
                "problems": [_problem_json(p) for p in exc.problems],
            }
            print(json.dumps(doc, indent=1))
        else:
            print(f"sts: {exc}", file=sys.stderr)
        return exc.exit_code
    except (StsError, OSError) as exc:
        if not args.json:
            raise  # the CLI prints it as one line
        where = f"{exc.filename}: " if isinstance(exc, OSError) and exc.filename else ""
        text = f"{where}{exc.strerror}" if isinstance(exc, OSError) and exc.strerror else str(exc)
        problem = {"severity": "error", "feature_id": "", "message": text, "fix": ""}
        print(json.dumps({"ok": False, "source": str(path), "problems": [problem]}, indent=1))
        return 2
    warnings = tuple(loaded.warnings)
    source = str(loaded.source)
    if args.json:
        print(json.dumps(floorplan_document(loaded.floorplan, warnings, source), indent=1))
    else:
        print(summary_text(loaded.floorplan, warnings, path, source))
    return 0


def run_render(args: argparse.Namespace) -> int:
    """Draw the plan to a PNG or SVG file."""
    from sts.render import output_format, render_floorplan

    output_format(args.out)  # a wrong extension fails before the plan is loaded
    loaded = _load(args.path)
    with replace_on_success(args.out, inputs=(args.path,)) as image:
        render_floorplan(loaded.floorplan, args.out, level=args.level, into=image)
    print(f"wrote {args.out}")
    return 0
