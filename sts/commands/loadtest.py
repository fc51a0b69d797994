"""`sts loadtest --url ws://... --site DIR --students N [--rate HZ] [--duration S]`.

Loads a running `sts serve` with N badges of the campus it serves (sts/loadtest.py: the
campus roster must hold N consented badges), shows a progress bar, then prints the
throughput, the readings lost or rejected, the reading-to-alert latency percentiles and
the server's CPU and memory (from its /metrics). Tokens: a gateway token (--token or
STS_TOKEN) and a feed token (--feed-token or STS_FEED_TOKEN).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import numpy as np

from sts.loadtest import LoadResult, plan_load, run_load, server_usage
from sts.progress import Progress
from sts.site import SiteFiles, load_site


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `loadtest` sub-command."""
    p = subparsers.add_parser(
        "loadtest",
        help="load a running server with simulated badges; throughput, loss, latency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--url", required=True, help="the server, e.g. ws://127.0.0.1:8765")
    p.add_argument("--site", type=Path, required=True, help="the campus folder the server serves")
    p.add_argument("--students", type=int, required=True, help="badges to simulate")
    p.add_argument("--rate", type=float, default=1.0, metavar="HZ", help="advertisements/s (1)")
    p.add_argument("--duration", type=float, default=30.0, metavar="S", help="seconds (30)")
    p.add_argument("--token", default=os.environ.get("STS_TOKEN"), help="gateway token")
    p.add_argument("--feed-token", default=os.environ.get("STS_FEED_TOKEN"), help="feed token")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the load and print the figures."""
    if not args.token or not args.feed_token:
        print(
            "sts: loadtest needs --token (gateway) and --feed-token (safety or admin); "
            "sts tokens issue --role ROLE --name NAME --data DIR",
            file=sys.stderr,
        )
        return 2
    if not (args.students > 0 and args.rate > 0 and args.duration > 0):
        print("sts: --students, --rate and --duration must be positive", file=sys.stderr)
        return 2
    site = load_site(SiteFiles.campus(args.site))
    try:
        plan = plan_load(site, args.students, args.rate, args.duration)
    except ValueError as exc:
        print(f"sts: --site {args.site}: {exc}", file=sys.stderr)
        return 2
    cpu0, _ = server_usage(args.url)
    progress = Progress(args.duration, sys.stderr, "loadtest")
    try:
        result = asyncio.run(
            run_load(
                args.url,
                args.token,
                args.feed_token,
                plan,
                args.rate,
                args.duration,
                lambda s: progress.update(s),
            )
        )
    finally:
        progress.close()
    cpu1, rss = server_usage(args.url)
    report(result, (cpu1 - cpu0) / args.duration, rss)
    return 0


def report(result: LoadResult, cpu_share: float, rss: float) -> None:
    """Print the figures of one run."""
    lost = result.sent - result.accepted - sum(result.rejected.values())
    rejected = ", ".join(f"{k} {v:,}" for k, v in sorted(result.rejected.items())) or "none"
    print(
        f"readings sent {result.sent:,} ({result.sent / result.seconds:,.0f}/s), "
        f"accepted {result.accepted:,}, rejected: {rejected}, unaccounted {lost:,}"
    )
    latencies = np.array(result.latencies()) * 1e3
    alerts = len({a[1] for a in result.alerts})
    print(
        f"alerts raised and received: {alerts} (badges walking into a restricted zone: "
        f"{result.intruders})"
    )
    if len(latencies):
        p50, p90, p99 = np.percentile(latencies, [50, 90, 99])
        print(
            f"reading-to-alert latency: p50 {p50:.1f} ms, p90 {p90:.1f} ms, p99 {p99:.1f} ms, "
            f"max {latencies.max():.1f} ms"
        )
    print(f"server: CPU {cpu_share * 100:.0f}% of one core, resident memory {rss / 2**20:.0f} MiB")
