"""`sts tail URL --token T`: print the feed, one JSON object per line (resumes by itself)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from geometry.errors import InputError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `tail` sub-command."""
    p = subparsers.add_parser(
        "tail",
        help="print a server's feed as JSON lines",
        description=(
            "Sign in to a running `sts serve` and print every message of the feed as one "
            "JSON line; reconnects and resumes on its own. The token may come from the "
            "STS_TOKEN environment variable instead of --token."
        ),
    )
    p.add_argument("url", help="the server, e.g. http://127.0.0.1:8765")
    p.add_argument("--token", default=os.environ.get("STS_TOKEN"), help="a feed token")
    p.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="types, levels, zones, kinds, groups (lists) or severity; repeatable",
    )
    p.add_argument("--after-seq", type=int, help="resume after this sequence number")
    p.add_argument("--count", type=int, help="stop after this many messages")
    p.set_defaults(run=run)


def parse_filters(items: list[str]) -> dict[str, Any]:
    """--filter KEY=V1,V2 options as a subscribe message's filters."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--filter {item!r}: write KEY=VALUE, e.g. types=alert,event")
        out[key] = value if key == "severity" else [v for v in value.split(",") if v]
    return out


async def _tail(args: argparse.Namespace) -> None:
    from transports.feed_client import Subscriber

    seen = 0
    async with Subscriber(
        args.url, args.token, filters=parse_filters(args.filter), after_seq=args.after_seq
    ) as feed:
        async for message in feed:
            if message["type"] == "heartbeat":
                continue
            print(json.dumps(message, separators=(",", ":"), ensure_ascii=False), flush=True)
            seen += 1
            if args.count is not None and seen >= args.count:
                return


def run(args: argparse.Namespace) -> int:
    """Print until interrupted (or --count messages)."""
    if not args.token:
        raise InputError("give --token (or set STS_TOKEN): `sts tokens issue` makes one")
    try:
        asyncio.run(_tail(args))
    except BrokenPipeError:
        sys.stderr.close()
    return 0
