"""The drill report on disk: Markdown, HTML with PNG plots, and the drill record as JSON.

Deterministic: the same summary gives the same bytes (the PNGs carry no timestamp).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

PNG_META = {"Software": None}


def _fmt(v: Any) -> str:
    return "-" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_fmt(c) for c in r) + " |" for r in rows]
    return lines


def _sections(s: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    rec = s["record"]
    counts = rec["counts"]
    pct = ["n", "mean", "p50", "p90", "p95", "p100"]
    return [
        (
            "Drill record",
            ["school", "date", "alarm", "type", "duration (s)", *counts],
            [
                [
                    rec["school"],
                    rec["date"],
                    rec["alarm_time"],
                    rec["drill_type"],
                    rec["duration_s"],
                    *counts.values(),
                ]
            ],
        ),
        ("Delay from alarm to moving (s)", pct, [[s["response_s"][k] for k in pct]]),
        ("Egress time, alarm to out of the building (s)", pct, [[s["egress_s"][k] for k in pct]]),
        (
            "Accounted per muster point (s from alarm)",
            ["muster point", "accounted", "50%", "90%", "100%"],
            [
                [m, v["accounted"], v["t50"], v["t90"], v["t100"]]
                for m, v in s["per_muster_point"].items()
            ],
        ),
        (
            "Exits",
            ["exit", "persons", "first (s)", "last (s)", "width (m)", "flow (persons/s/m)"],
            [
                [o, v["persons"], v["first_s"], v["last_s"], v["width_m"], v["flow_pps_per_m"]]
                for o, v in s["exits"].items()
            ],
        ),
        (
            "Zone clearance (last exit, s from alarm)",
            ["zone", "cleared at (s)"],
            [[z, t] for z, t in s["clearance_s"].items()],
        ),
        (
            "Stragglers (final roll call)",
            ["tag", "status", "last zone", "last seen (epoch s)", "uncertainty (m)"],
            [
                [m["tag"], m["status"], m["last_zone"] or "-", m["last_seen"], m["uncertainty_m"]]
                for m in s["stragglers"]
            ],
        ),
    ]


def _plots(s: dict[str, Any], folder: Path) -> list[str]:
    names = []
    curve = s["accounted_curve"]
    expected = s["record"]["counts"].get("expected", len(curve)) or 1
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    ax.step([0, *curve], [0, *[(k + 1) / expected * 100 for k in range(len(curve))]], where="post")
    ax.set_xlabel("seconds from alarm")
    ax.set_ylabel("% accounted at a muster point")
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(folder / "accounted.png", metadata=PNG_META)
    plt.close(fig)
    names.append("accounted.png")
    if s["exits"]:
        fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
        exits = list(s["exits"])
        ax.barh(exits, [s["exits"][e]["persons"] for e in exits])
        ax.set_xlabel("persons")
        fig.tight_layout()
        fig.savefig(folder / "exits.png", metadata=PNG_META)
        plt.close(fig)
        names.append("exits.png")
    return names


def write_report(summary: dict[str, Any], folder: Path) -> list[Path]:
    """report.md, report.html, drill-record.json and the PNGs into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    if "error" in summary:
        raise ValueError(summary["error"])
    rec = summary["record"]
    title = f"Evacuation {rec['drill_type']}: {rec['school']}, {rec['date']} {rec['alarm_time']}"
    md = [f"# {title}", "", "Figures from what the tracking engine saw (docs/simulator.md).", ""]
    body = [f"<h1>{html.escape(title)}</h1>"]
    for heading, head, rows in _sections(summary):
        md += [f"## {heading}", "", *(_table(head, rows) if rows else ["(none)"]), ""]
        cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
        trs = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows
        )
        body.append(f"<h2>{html.escape(heading)}</h2><table><tr>{cells}</tr>{trs}</table>")
    plots = _plots(summary, folder)
    md += [f"![{p}]({p})" for p in plots]
    body += [f'<img src="{p}" alt="{p}">' for p in plots]
    style = "table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px}"
    html_head = f"<meta charset='utf-8'><title>{html.escape(title)}</title><style>{style}</style>"
    page = f"<!doctype html><html><head>{html_head}</head><body>{''.join(body)}</body></html>\n"
    (folder / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    (folder / "report.html").write_text(page, encoding="utf-8")
    record = {
        "record": summary["record"],
        "response_s": summary["response_s"],
        "egress_s": summary["egress_s"],
        "per_muster_point": summary["per_muster_point"],
        "exits": summary["exits"],
        "stragglers": summary["stragglers"],
    }
    (folder / "drill-record.json").write_text(
        json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    return [folder / n for n in ("report.md", "report.html", "drill-record.json", *plots)]
