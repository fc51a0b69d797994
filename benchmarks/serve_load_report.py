"""The figures of a serve_load run: at the subscribers, inside the server, and the CPU bill.

Alerts are reported in two phases: `single` (the intruders, one at a time, before
BURST_AT_S) and `burst` (hundreds raised within a few ticks, each fanned out to every
subscriber, so their latency is mostly the fan-out queue). Latency at the subscriber
runs from the send of the first gateway frame whose readings let the engine emit the
fix that raised an alert (the Locator emits a fix at T once a reading past T + 0.5 s
has arrived) to the alert's arrival. Inside the server, the /metrics histograms
(differences between snapshots at the phases' starts and ends) split the way into
the wait for the engine, the tick, and the wait in each client's writer; quantiles are
read from the buckets (linear inside a bucket, as Prometheus' histogram_quantile).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The Locator emits the fix at T once a reading past T + this has arrived.
LATE_TOLERANCE_S = 0.5
#: Seconds into the gateway's run when the burst of intruders starts walking.
BURST_AT_S = 20.0
CORES = 2


@dataclass
class Run:
    """What the main process measured around the gateway's run."""

    wall_s: float
    cpu_s: dict[str, tuple[float, float]]  # server, gateway, subscribers: (on CPU, waiting), s
    peak_rss: int
    before: dict[str, float]  # /metrics when the gateway started,
    mid: dict[str, float]  # when the burst started walking (BURST_AT_S),
    after: dict[str, float]  # and after the run

    def delta(self, key: str, phase: str = "run") -> float:
        """How much a sample grew during the run, or its `single` or `burst` phase."""
        start, end = {
            "run": (self.before, self.after),
            "single": (self.before, self.mid),
            "burst": (self.mid, self.after),
        }[phase]
        return end.get(key, 0.0) - start.get(key, 0.0)

    def total(self, prefix: str, phase: str = "run") -> float:
        """The growth of every sample whose name{labels} starts with `prefix`."""
        return sum(self.delta(k, phase) for k in self.after if k.startswith(prefix))


@dataclass
class Fanout:
    """The fan-out phase: the commander's times and alerts, the server's CPU seconds in it."""

    commander: dict[str, Any]  # started, ended (wall), alerts
    server_cpu_s: float


def quantile(run: Run, name: str, q: float, label: str = "", phase: str = "run") -> float:
    """The q-quantile (0..1) of a histogram's observations during a phase, seconds."""
    pattern = re.compile(rf'^{name}_bucket\{{(?:{label},)?le="([^"]+)"(?:,{label})?\}}$')
    buckets = sorted(
        (float("inf") if m.group(1) == "+Inf" else float(m.group(1)), run.delta(k, phase))
        for k in run.after
        if (m := pattern.match(k)) and (not label or label in k)
    )
    if not buckets or buckets[-1][1] <= 0:
        return float("nan")
    rank, lower, below = q * buckets[-1][1], 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = upper, count
    return lower


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def client_side(args: argparse.Namespace, frames: list[list[float]], subs: list[Any]) -> None:
    """Latency, rows and the burst as the subscribers saw them."""
    stamp = np.array([f[0] for f in frames])
    sent = np.array([f[1] for f in frames])
    latencies: dict[str, list[float]] = {"single": [], "burst": []}
    for sub in subs:
        for arrived, _aid, t in sub["alerts"]:
            i = int(np.searchsorted(stamp, t + LATE_TOLERANCE_S, side="right"))
            if i < len(sent):
                phase = "burst" if t >= sent[0] + BURST_AT_S else "single"
                latencies[phase].append(arrived - sent[i])
    for phase, values in latencies.items():
        print(
            f"reading-to-alert latency at the subscriber, {phase} alerts: p50 "
            f"{ms(percentile(values, 50))}, p99 {ms(percentile(values, 99))} (n={len(values)})"
        )
    span = sent[-1] - sent[0]
    rows = sum(s["rows"] for s in subs)
    print(f"position rows counted by the subscribers: {rows / span:,.0f} /s")
    closed = [s["closed"] for s in subs if s["closed"] is not None]
    if closed:
        print(f"subscribers closed by the server: {len(closed)} (codes {sorted(set(closed))})")
    burst_from = sent[0] + BURST_AT_S
    burst = sorted(a[0] for s in subs for a in s["alerts"] if a[0] >= burst_from)
    if len(burst) > 1:
        span_s = burst[-1] - burst[0]
        print(
            f"burst: {len(burst)} alert messages arrived over {span_s:.3f} s "
            f"({len(burst) / span_s:,.0f} msgs/s, first to last arrival)"
        )


def server_side(run: Run) -> None:
    """The server's own stages, its sends and CPU."""
    stages = (
        ("frame arrival to engine", "sts_arrival_to_engine_seconds", ""),
        ("tick (engine, store, hand-over)", "sts_tick_seconds", ""),
        ("hand-over to socket, alerts", "sts_publish_to_socket_seconds", 'type="alert"'),
        ("hand-over to socket, positions", "sts_publish_to_socket_seconds", 'type="positions"'),
        ("frame arrival to socket, alerts", "sts_arrival_to_socket_seconds", 'type="alert"'),
        ("frame arrival to socket, positions", "sts_arrival_to_socket_seconds", 'type="positions"'),
    )
    for what, name, label in stages:
        figures = []
        for phase in ("single", "burst"):
            p50, p99 = (quantile(run, name, q, label, phase) for q in (0.5, 0.99))
            figures.append(f"{phase} p50 {ms(p50)}, p99 {ms(p99)}")
        print(f"in the server, {what}: {'; '.join(figures)}")
    readings = run.total("sts_readings_in_total")
    rejected = run.total("sts_readings_rejected_total")
    print(f"readings counted in: {readings:,.0f}; rejected: {rejected:,.0f}")
    events = [run.total("sts_events_total", phase) for phase in ("single", "burst")]
    print(f"zone events stored: single phase {events[0]:,.0f}, burst phase {events[1]:,.0f}")
    rows = run.delta("sts_position_updates_sent_total")
    alerts = run.delta('sts_messages_sent_total{type="alert"}')
    print(f"position rows sent by the server: {rows / run.wall_s:,.0f} /s")
    print(f"alert messages sent by the server: {alerts:,.0f}")
    cpu = run.delta("process_cpu_seconds_total") / run.wall_s
    print(f"server CPU from its own /metrics: {cpu:.2f} s/s")


def cpu_bill(run: Run) -> None:
    """CPU seconds per second of each party, against the machine's cores."""
    per_s = {k: (on / run.wall_s, wait / run.wall_s) for k, (on, wait) in run.cpu_s.items()}
    machine = per_s.pop("machine")[0]
    parts = ", ".join(f"{k} {on:.2f} (waiting {wait:.2f})" for k, (on, wait) in per_s.items())
    ours = sum(on for on, _ in per_s.values())
    print(
        f"CPU-seconds per second on a core (and runnable, waiting for one): {parts}; "
        f"together {ours:.2f} of {CORES} cores; every process on the machine {machine:.2f}; "
        f"server peak RSS {run.peak_rss / 2**20:.0f} MiB"
    )


def fanout_phase(subs: list[Any], fanout: Fanout) -> None:
    """Alert changes fanned out one message per subscriber, with no readings coming in."""
    started = fanout.commander["started"]
    arrivals = sorted(t for s in subs for t in s["changes"] if t >= started)
    if not arrivals:
        print("fan-out phase: no alert changes arrived")
        return
    span = arrivals[-1] - started
    print(
        f"fan-out phase: {fanout.commander['alerts']} alerts acknowledged then resolved; "
        f"{len(arrivals):,} alert messages arrived {span:.3f} s after the first command "
        f"({len(arrivals) / span:,.0f} msgs/s); server CPU {fanout.server_cpu_s:.2f} s "
        f"({fanout.server_cpu_s / len(arrivals) * 1e6:.1f} us per message sent)"
    )


def report(
    args: argparse.Namespace, frames: list[list[float]], subs: list[Any], run: Run, fanout: Fanout
) -> None:
    """Print every figure of the run."""
    print(
        f"badges {args.badges}, subscribers {len(subs)}, tick {args.tick} s, "
        f"{args.seconds} s, run {run.wall_s:.1f} s"
    )
    client_side(args, frames, subs)
    server_side(run)
    cpu_bill(run)
    fanout_phase(subs, fanout)
