"""The files of `sts accuracy`: a Markdown and a JSON summary and a PNG of the error map."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import numpy as np

from geometry.model import Floorplan
from sts.accuracy import Fixes, Scores


def _cell(value: float | None, percent: bool = False) -> str:
    """A table cell: '-' where the figure does not apply."""
    if value is None:
        return "-"
    return f"{value:.0%}" if percent else f"{value:.2f}"


def markdown(title: str, scores: Mapping[str, Scores], notes: list[str]) -> str:
    """The summary table, one row per method, and the notes on what was compared."""
    lines = [
        f"# Positioning accuracy: {title}",
        "",
        "| method | fixes | median m | p90 m | within 1x radius | within 2x radius "
        "| room correct | floor correct |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in scores.items():
        lines.append(
            f"| {name} | {s.fixes} | {_cell(s.median_m)} | {_cell(s.p90_m)} "
            f"| {_cell(s.coverage_1x, True)} | {_cell(s.coverage_2x, True)} "
            f"| {_cell(s.room_accuracy, True)} | {_cell(s.floor_accuracy, True)} |"
        )
    return "\n".join([*lines, "", *(f"- {n}" for n in notes)]) + "\n"


def summary_json(title: str, scores: Mapping[str, Scores], notes: list[str]) -> str:
    """The same figures as JSON (NaN written as null)."""

    def clean(d: dict[str, object]) -> dict[str, object]:
        return {
            k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in d.items()
        }

    data = {
        "title": title,
        "methods": {name: clean(asdict(s)) for name, s in scores.items()},
        "notes": notes,
    }
    return json.dumps(data, indent=1, sort_keys=False) + "\n"


def error_map(path: Path, floorplan: Floorplan, fixes: Fixes, title: str) -> None:
    """PNG: the median error of the fixes around each place (hexagons over the true
    positions), the zones' outlines and the readers: where the error is large, the
    installation may need another reader."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 6), dpi=100)
    for zone in floorplan.zones:
        parts = getattr(zone.polygon, "geoms", [zone.polygon])
        for part in parts:
            xs, ys = part.exterior.xy
            ax.plot(xs, ys, color="0.6", linewidth=0.8)
    if len(fixes.t):
        hb = ax.hexbin(
            fixes.true_x,
            fixes.true_y,
            C=fixes.error,
            reduce_C_function=np.median,
            gridsize=20,
            cmap="viridis",
            mincnt=1,
        )
        fig.colorbar(hb, ax=ax, label="median error of the fixes here, m")
    rx = [r.x for r in floorplan.readers]
    ry = [r.y for r in floorplan.readers]
    ax.scatter(rx, ry, marker="^", color="red", s=40, label="reader", zorder=3)
    ax.set_aspect("equal")
    ax.set_xlabel("x, m")
    ax.set_ylabel("y, m")
    ax.set_title(title)
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
