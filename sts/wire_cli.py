"""`--url`, `--token`, `--gateway` and `--speed` for the commands that feed a running server
(simulate, replay).

`--url ws://host:port` sends over the server's ingest WebSocket with a gateway token
(`sts tokens issue --role gateway`), from `--token` or the STS_TOKEN environment
variable (so it need not appear in the shell history). `--url mqtt://[user@]host[:port]`
publishes through the broker the server subscribes to, as gateway `--gateway`; the
broker's password, if it wants one, comes from STS_MQTT_PASSWORD.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Iterable

from websockets.exceptions import WebSocketException

from simulator.feed import FeedItem
from simulator.wire import WireStats, item_time, send_feed
from simulator.wire_mqtt import broker_address, publish_feed
from sts.progress import Progress


def add_wire_options(p: argparse.ArgumentParser) -> None:
    """The options that send a feed to `sts serve` instead of the in-process engine."""
    p.add_argument(
        "--url",
        help="a running sts serve (ws://host:port, over /ingest) or its MQTT broker "
        "(mqtt://host:port)",
    )
    p.add_argument("--token", help="gateway token for a ws:// --url (default: $STS_TOKEN)")
    p.add_argument(
        "--gateway",
        default="sts-feed",
        help="with an mqtt:// --url: the gateway id (topic sts/<gateway>/readings)",
    )


def wire_token(args: argparse.Namespace) -> str | None:
    """The gateway token, or None after saying how to give one."""
    token = args.token or os.environ.get("STS_TOKEN")
    if not token:
        print(
            "sts: --url needs a gateway token: --token T or STS_TOKEN "
            "(sts tokens issue --role gateway --name NAME --data DIR)",
            file=sys.stderr,
        )
    return token


def feed_progress(
    span: tuple[float, float], label: str
) -> tuple[Progress, Callable[[FeedItem], None]]:
    """A progress bar over the feed's data time, and the callback that moves it."""
    progress = Progress(max(span[1] - span[0], 1.0), sys.stderr, label)

    def show(item: FeedItem) -> None:
        progress.update(item_time(item) - span[0])

    return progress, show


def send_to_server(
    args: argparse.Namespace,
    items: Iterable[FeedItem],
    reader_ids: tuple[str, ...],
    span: tuple[float, float],
    speed: float | None,
) -> int:
    """Send a feed to `args.url` with a progress bar; print what the server accepted."""
    if str(args.url).startswith("mqtt:"):
        return publish_to_broker(args, items, reader_ids, span, speed)
    token = wire_token(args)
    if token is None:
        return 2
    progress, show = feed_progress(span, "send")
    try:
        stats = asyncio.run(
            send_feed(args.url, token, items, reader_ids, speed=speed, on_item=show)
        )
    except (OSError, TimeoutError) as exc:
        print(
            f"sts: --url {args.url}: cannot reach the server ({exc}); is sts serve running?",
            file=sys.stderr,
        )
        return 2
    except WebSocketException as exc:  # refused handshake (bad token), closed mid-run
        print(
            f"sts: --url {args.url}: {type(exc).__name__}: {exc}; check the URL and --token",
            file=sys.stderr,
        )
        return 2
    finally:
        progress.close()
    print_stats(stats, args.url)
    return 1 if stats.errors else 0


def publish_to_broker(
    args: argparse.Namespace,
    items: Iterable[FeedItem],
    reader_ids: tuple[str, ...],
    span: tuple[float, float],
    speed: float | None,
) -> int:
    """Publish a feed through an MQTT broker with a progress bar; print what went out."""
    try:
        address = broker_address(args.url, args.gateway, os.environ.get("STS_MQTT_PASSWORD"))
    except ValueError as exc:
        print(f"sts: --url: {exc}", file=sys.stderr)
        return 2
    progress, show = feed_progress(span, "publish")
    try:
        stats = publish_feed(address, items, reader_ids, speed=speed, on_item=show)
    except (OSError, TimeoutError) as exc:
        print(
            f"sts: --url {args.url}: cannot publish to the broker ({exc}); is it running?",
            file=sys.stderr,
        )
        return 2
    finally:
        progress.close()
    print(
        f"Published {stats.readings:,} readings in {stats.frames:,} frames to "
        f"{address.readings_topic} on {address.host}:{address.port} (each confirmed by the "
        f"broker); the server counts them in /metrics as gateway mqtt:{address.gateway}"
    )
    _print_skips_and_errors(stats)
    return 1 if stats.errors else 0


def print_stats(stats: WireStats, url: str) -> None:
    """What the server made of the readings."""
    rejected = ", ".join(f"{why} {n:,}" for why, n in sorted(stats.rejected.items())) or "none"
    print(
        f"Sent {stats.readings:,} readings in {stats.frames:,} frames to {url}: "
        f"{stats.accepted:,} accepted, rejected: {rejected}"
    )
    _print_skips_and_errors(stats)


def _print_skips_and_errors(stats: WireStats) -> None:
    if stats.commands_skipped:
        print(f"{stats.commands_skipped} commands not sent (ingest carries readings only)")
    for error in stats.errors[:5]:
        print(f"sts: the server refused a frame: {error}", file=sys.stderr)
