"""Pictures of a floorplan: zones coloured by kind, labels, readers and doors (PNG or SVG).

Matplotlib's object API on the Agg/SVG canvases (no pyplot, no global state), one panel
per level, stacked, all at one scale. The output is deterministic: the SVG ids are
salted with a fixed string and neither format carries a date, so the same plan and
matplotlib version give the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient

from geometry.errors import InputError
from geometry.model import Floorplan, Level, OpeningKind, Zone, ZoneKind

#: Output formats by file extension.
FORMATS: dict[str, str] = {".png": "png", ".svg": "svg"}

#: One fixed fill colour per zone kind (the legend and every picture agree).
KIND_COLOURS: dict[ZoneKind, str] = {
    ZoneKind.ROOM: "#f3e5c4",
    ZoneKind.CLASSROOM: "#ffe28a",
    ZoneKind.LAB: "#a9d8f5",
    ZoneKind.CORRIDOR: "#e6e6e6",
    ZoneKind.STAIRS: "#c5a9e8",
    ZoneKind.ELEVATOR: "#9f86d6",
    ZoneKind.RESTROOM: "#93d8cf",
    ZoneKind.OFFICE: "#f8c29b",
    ZoneKind.GYM: "#f2a0a0",
    ZoneKind.CAFETERIA: "#ffc46b",
    ZoneKind.LIBRARY: "#bfe0a0",
    ZoneKind.STORAGE: "#d2c6c0",
    ZoneKind.STAFF_ONLY: "#ff9f7f",
    ZoneKind.RESTRICTED: "#e53935",
    ZoneKind.OUTDOOR: "#dcebc8",
    ZoneKind.PLAYGROUND: "#a8d67a",
    ZoneKind.PARKING: "#b4c0c6",
    ZoneKind.BUILDING: "#fafafa",
    ZoneKind.SAFE_AREA: "#e6f4e7",
    ZoneKind.MUSTER_POINT: "#2e9d48",
    ZoneKind.EXIT: "#6cc3ba",
}

#: Door colours by opening kind.
OPENING_COLOURS: dict[OpeningKind, str] = {
    OpeningKind.DOOR: "#6d4c41",
    OpeningKind.EXIT: "#1b7f3a",
    OpeningKind.EMERGENCY_EXIT: "#d50000",
}

#: Legend names of openings ("exit" alone would read as the zone kind).
_OPENING_LABELS: dict[OpeningKind, str] = {
    OpeningKind.DOOR: "door",
    OpeningKind.EXIT: "exit door",
    OpeningKind.EMERGENCY_EXIT: "emergency exit door",
}

#: Drawing layers: big containers first (faded), grounds, rooms, then markers on top.
_LAYER: dict[ZoneKind, int] = {
    ZoneKind.SAFE_AREA: 0,
    ZoneKind.OUTDOOR: 1,
    ZoneKind.PLAYGROUND: 1,
    ZoneKind.PARKING: 1,
    ZoneKind.EXIT: 2,
    ZoneKind.BUILDING: 2,
    ZoneKind.MUSTER_POINT: 4,
}
_HATCH: dict[ZoneKind, str] = {ZoneKind.RESTRICTED: "////", ZoneKind.STAFF_ONLY: "...."}
#: Kinds drawn as containers: no label over the rooms they hold.
_UNLABELLED: frozenset[ZoneKind] = frozenset({ZoneKind.SAFE_AREA, ZoneKind.BUILDING})

#: A faint box behind labels keeps them readable over reader marks and door ticks (not a
#: stroke path effect: that would turn SVG text into outlines, unsearchable).
_LABEL_BOX = {"boxstyle": "square,pad=0.05", "facecolor": "#ffffff", "alpha": 0.45, "lw": 0}
_PANEL_W_IN = 13.0  # width of one level's axes, inches
_LEGEND_W_IN = 2.6
_MARGIN_IN = 0.55
_TITLE_IN = 0.45
_MAX_FONT = 8.0
_MIN_FONT = 3.6


def output_format(path: Path) -> str:
    """'png' or 'svg' from the file name; anything else is an InputError naming the fix."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path}: unknown picture format {Path(path).suffix or '(no extension)'!r}. "
            "Fix: name the output FILE.png or FILE.svg"
        )
    return fmt


def _path_of(geom: Polygon | MultiPolygon) -> MplPath:
    """A matplotlib path of a polygon with holes (rings wound oppositely, as fill needs)."""
    verts: list[tuple[float, float]] = []
    codes: list[Any] = []
    for part in getattr(geom, "geoms", [geom]):
        p = orient(part, 1.0)
        for ring in (p.exterior, *p.interiors):
            pts = list(ring.coords)
            verts += pts
            codes += [MplPath.MOVETO] + [MplPath.LINETO] * (len(pts) - 2) + [MplPath.CLOSEPOLY]
    return MplPath(verts, codes)


def _bounds(fp: Floorplan, levels: Sequence[Level]) -> tuple[float, float, float, float]:
    """Extent of everything drawn on these levels, with a small margin."""
    ids = {lv.id for lv in levels}
    xs: list[float] = []
    ys: list[float] = []
    for z in fp.zones:
        if z.level in ids:
            b = z.polygon.bounds
            xs += [b[0], b[2]]
            ys += [b[1], b[3]]
    for r in fp.readers:
        if r.level in ids:
            xs.append(r.x)
            ys.append(r.y)
    if not xs:
        return (0.0, 0.0, 10.0, 10.0)
    w = max(max(xs) - min(xs), max(ys) - min(ys), 1.0)
    m = 0.02 * w
    return (min(xs) - m, min(ys) - m, max(xs) + m, max(ys) + m)


def _label_layout(name: str, w_pt: float, h_pt: float) -> tuple[str, float, float]:
    """Text, font size and rotation that fit a label into a w x h (points) box."""
    words = name.split()
    options: list[tuple[str, int]] = [(name, 1)]
    if len(words) > 1:
        # Break once, as evenly as possible: two short lines fit narrow rooms.
        best = min(
            range(1, len(words)),
            key=lambda i: abs(len(" ".join(words[:i])) - len(" ".join(words[i:]))),
        )
        options.append((" ".join(words[:best]) + "\n" + " ".join(words[best:]), 2))
    chosen = ("", 0.0, 0.0)
    for text, nlines in options:
        longest = max(len(s) for s in text.split("\n"))
        for rot, (bw, bh) in ((0.0, (w_pt, h_pt)), (90.0, (h_pt, w_pt))):
            size = min(_MAX_FONT, 0.9 * bw / (0.6 * longest), 0.9 * bh / (1.25 * nlines))
            if rot:
                size /= 1.35  # turned text reads worse: only when it is clearly bigger
            if size > chosen[1] + 0.2:  # prefer one line unless two are clearly bigger
                chosen = (text, size, rot)
    return chosen


def _draw_level(ax: object, fp: Floorplan, level: Level, pt_per_m: float) -> None:
    """Zones, labels, doors and readers of one level onto an axes."""
    zones = sorted(
        (z for z in fp.zones if z.level == level.id),
        key=lambda z: (_LAYER.get(z.kind, 3), -z.polygon.area, z.id),
    )
    for z in zones:
        _draw_zone(ax, z, pt_per_m)
    for o in (o for o in fp.openings if o.level == level.id):
        xs, ys = o.segment.xy
        ax.plot(  # type: ignore[attr-defined]
            list(xs),
            list(ys),
            color=OPENING_COLOURS[o.kind],
            linewidth=2.6,
            solid_capstyle="butt",
            zorder=6,
        )
    rx = [r.x for r in fp.readers if r.level == level.id]
    ry = [r.y for r in fp.readers if r.level == level.id]
    ax.plot(  # type: ignore[attr-defined]
        rx, ry, linestyle="none", marker="^", markersize=3.2, color="#1a237e", zorder=7
    )


def _edge_style(kind: ZoneKind) -> dict[str, Any]:
    """Outline of a zone kind: containers stand out by their edges, rooms by their fill."""
    if kind is ZoneKind.SAFE_AREA:
        return {"edgecolor": "#2e7d32", "linestyle": "--", "lw": 1.2}
    if kind is ZoneKind.BUILDING:
        return {"edgecolor": "#37474f", "lw": 2.0}
    return {"edgecolor": "#616161", "lw": 0.5}


def _draw_zone(ax: object, z: Zone, pt_per_m: float) -> None:
    """One zone: filled by kind (containers faded and outlined) and labelled."""
    colour = KIND_COLOURS[z.kind]
    layer = _LAYER.get(z.kind, 3)
    patch = PathPatch(
        _path_of(z.polygon),
        facecolor=colour,
        hatch=_HATCH.get(z.kind),
        zorder=1 + layer * 0.5,
        **_edge_style(z.kind),
    )
    ax.add_patch(patch)  # type: ignore[attr-defined]
    if z.kind in _UNLABELLED or not z.name:
        return
    minx, miny, maxx, maxy = z.polygon.bounds
    c = z.polygon.centroid
    at = c if z.polygon.contains(c) else z.polygon.representative_point()
    text, size, rot = _label_layout(z.name, (maxx - minx) * pt_per_m, (maxy - miny) * pt_per_m)
    if size < _MIN_FONT:
        size = _MIN_FONT
    dark = z.kind in (ZoneKind.RESTRICTED, ZoneKind.MUSTER_POINT)
    ax.text(  # type: ignore[attr-defined]
        at.x,
        at.y,
        text,
        fontsize=size,
        rotation=rot,
        ha="center",
        va="center",
        color="white" if dark else "#212121",
        fontweight="bold" if dark else "normal",
        zorder=8,
        linespacing=1.0,
        bbox=None if dark else _LABEL_BOX,
    )


def _legend_handles(fp: Floorplan) -> list[object]:
    """Legend entries: the zone kinds present (in enum order), readers, door kinds."""
    present = {z.kind for z in fp.zones}
    handles: list[object] = [
        Patch(
            facecolor=KIND_COLOURS[k],
            hatch=_HATCH.get(k),
            label=k.value.replace("_", " "),
            **_edge_style(k),
        )
        for k in ZoneKind
        if k in present
    ]
    handles.append(
        Line2D([], [], linestyle="none", marker="^", color="#1a237e", label="BLE reader")
    )
    kinds = {o.kind for o in fp.openings}
    for k in OpeningKind:
        if k in kinds:
            handles.append(Line2D([], [], color=OPENING_COLOURS[k], lw=3, label=_OPENING_LABELS[k]))
    return handles


def render_floorplan(
    fp: Floorplan, out: Path, level: str | None = None, *, into: BinaryIO | None = None
) -> None:
    """Draw every level (or one) of a floorplan into `out` (.png or .svg; written to
    `into` instead when given, in the format `out` names)."""
    fmt = output_format(out)
    if level is None:
        levels = sorted(fp.levels, key=lambda lv: (-lv.ordinal, lv.id))
    else:
        try:
            levels = [fp.level(level)]
        except KeyError:
            known = ", ".join(lv.id for lv in fp.levels)
            raise InputError(
                f"unknown level {level!r}. Fix: use one of the plan's levels: {known}"
            ) from None
    minx, miny, maxx, maxy = _bounds(fp, levels)
    # Panels are _PANEL_W_IN wide; a plan taller than it is wide gets a narrower panel.
    panel_w = min(_PANEL_W_IN, _PANEL_W_IN * (maxx - minx) / (maxy - miny))
    panel_h = panel_w * (maxy - miny) / (maxx - minx)
    fig_w = _MARGIN_IN * 2 + panel_w + _LEGEND_W_IN
    fig_h = _TITLE_IN + len(levels) * (panel_h + _TITLE_IN + _MARGIN_IN) + _MARGIN_IN
    pt_per_m = panel_w * 72.0 / (maxx - minx)
    with rc_context(
        {"svg.hashsalt": "sts-render", "svg.fonttype": "none", "font.family": "DejaVu Sans"}
    ):
        fig = Figure(figsize=(fig_w, fig_h))
        (FigureCanvasSVG if fmt == "svg" else FigureCanvasAgg)(fig)
        title = fp.site.name or fp.site.id
        fig.text(
            _MARGIN_IN / fig_w,
            1 - 0.3 / fig_h,
            f"{title}: floorplan",
            fontsize=13,
            fontweight="bold",
            va="center",
        )
        for i, lv in enumerate(levels):
            top = fig_h - _TITLE_IN - i * (panel_h + _TITLE_IN + _MARGIN_IN) - _TITLE_IN
            ax = fig.add_axes(
                (_MARGIN_IN / fig_w, (top - panel_h) / fig_h, panel_w / fig_w, panel_h / fig_h)
            )
            ax.set_xlim(minx, maxx)
            ax.set_ylim(miny, maxy)
            ax.set_aspect("equal", adjustable="box")
            ax.set_title(f"{lv.name or lv.id} ({lv.id})", fontsize=10, loc="left")
            ax.tick_params(labelsize=7)
            ax.set_xlabel("x (m, east)", fontsize=7, labelpad=1)
            ax.set_ylabel("y (m, north)", fontsize=7, labelpad=1)
            _draw_level(ax, fp, lv, pt_per_m)
        fig.legend(
            handles=_legend_handles(fp),
            loc="upper right",
            bbox_to_anchor=(1 - 0.1 / fig_w, 1 - _TITLE_IN / fig_h),
            fontsize=8,
            title="Zone kinds, readers, doors",
            title_fontsize=8,
            frameon=False,
        )
        meta: dict[str, str | None] = (
            {"Date": None, "Creator": "sts floorplan render"}
            if fmt == "svg"
            else {"Software": "sts floorplan render"}
        )
        dpi = 130 if len(levels) > 1 else 150
        fig.savefig(into if into is not None else Path(out), format=fmt, dpi=dpi, metadata=meta)
