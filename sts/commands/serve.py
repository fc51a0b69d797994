"""`sts serve`: the live service for one site (docs/protocol.md, docs/cli.md)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from sts.data_option import add_data_option
from sts.serve_config import load_config
from sts.ticks import check_step


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `serve` sub-command."""
    p = subparsers.add_parser(
        "serve",
        help="run the live service: reader ingest, the WebSocket feed, the store",
        description=(
            "Serve one site on one port: the subscriber feed at /feed, reader ingest at "
            "/ingest (and MQTT when configured), /healthz, /metrics, /floorplan.geojson, "
            "POST /auth/ticket and the dashboard at /. Everything kept lives under --data."
        ),
    )
    p.add_argument("--site", type=Path, help="campus folder (floorplan, roster...)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (8765; 0: any free port)")
    add_data_option(p)
    p.add_argument("--config", type=Path, help="sts.toml (embedded defaults without it)")
    p.add_argument("--tick", type=float, default=1.0, help="seconds between engine ticks (1)")
    p.add_argument(
        "--training",
        type=Path,
        metavar="SCENARIO",
        help="TRAINING: serve a simulated school (a scenario TOML); data in DATA/training",
    )
    p.add_argument("--speed", type=float, default=1.0, help="with --training: x real time (1)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load the site, then serve until interrupted."""
    from sts.server.app import ServeOptions, Server  # the server's imports only when serving

    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("websockets").setLevel(logging.WARNING)
    if (args.site is None) == (args.training is None):
        print("sts serve: give --site CAMPUS, or --training SCENARIO (its campus)", file=sys.stderr)
        return 2
    if not args.speed > 0:
        print("sts serve: --speed must be a positive number (1 is real time)", file=sys.stderr)
        return 2
    options = ServeOptions(
        site=args.site or args.training,
        training=args.training,
        speed=args.speed,
        host=args.host,
        port=args.port,
        data=args.data,
        tick_s=check_step(args.tick, "--tick"),
        config=load_config(args.config),
    )
    server = Server(options)
    asyncio.run(server.run())
    return 0
