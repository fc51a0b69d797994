"""A feed (simulated or recorded) into a running `sts serve` through an MQTT broker.

Most BLE gateways publish to MQTT, so a load test or a replay can go the way their
readings go: `publish_feed` acts as one gateway publishing the same columnar msgpack
frames as `send_feed` (simulator/wire.py) to `sts/<gateway>/readings`, QoS 1, each
frame confirmed by the broker before the next (so the server sees them in order), at
`speed` times real time by the data clock or as fast as the broker confirms. The server
answers only refusals, on `sts/<gateway>/errors`; they are collected for the run. How
many rows the server accepted is not known to a publisher: the server counts them per
gateway in /metrics (`sts_readings_in_total{gateway="mqtt:<gateway>"}`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt

from simulator.feed import FeedItem, Readings
from simulator.wire import Pace, WireStats, frame_namer, frames_of

#: How long to wait for the broker to confirm one frame before giving up.
CONFIRM_TIMEOUT_S = 30.0
#: How long to listen for the server's refusals after the last frame.
ERRORS_GRACE_S = 1.0


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where to publish: the broker, the gateway id and optional credentials."""

    host: str
    port: int
    gateway: str
    username: str | None = None
    password: str | None = None

    @property
    def readings_topic(self) -> str:
        """The topic the server's default `mqtt.topic` (sts/+/readings) subscribes to."""
        return f"sts/{self.gateway}/readings"

    @property
    def errors_topic(self) -> str:
        """Where the server publishes its refusals of this gateway's frames."""
        return f"sts/{self.gateway}/errors"


def broker_address(url: str, gateway: str, password: str | None = None) -> BrokerAddress:
    """Parse mqtt://[user@]host[:port]; ValueError names what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "mqtt":
        raise ValueError(f"{url!r} is not an mqtt:// URL")
    if not parts.hostname:
        raise ValueError(f"{url!r} names no broker host (mqtt://host:1883)")
    if parts.path not in ("", "/"):
        raise ValueError(
            f"{url!r}: give the gateway with --gateway, not in the URL path "
            "(frames go to sts/<gateway>/readings)"
        )
    if not gateway or any(c in gateway for c in "/+#"):
        raise ValueError(f"gateway {gateway!r} must be non-empty without '/', '+' or '#'")
    username = unquote(parts.username) if parts.username else None
    return BrokerAddress(parts.hostname, parts.port or 1883, gateway, username, password)


class _Refusals:
    """The server's error replies, gathered by paho's network thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[str] = []

    def on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        try:
            reply = json.loads(message.payload)
            text = f"{reply.get('code')}: {reply.get('message')}"
        except (ValueError, AttributeError):
            text = f"unreadable error reply on {message.topic}"
        with self.lock:
            self.messages.append(text)


def _connect(address: BrokerAddress, refusals: _Refusals) -> mqtt.Client:
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"sts-feed-{address.gateway}-{time.time_ns():x}"
    )
    if address.username is not None:
        client.username_pw_set(address.username, address.password)
    client.on_message = refusals.on_message
    client.connect(address.host, address.port, keepalive=30)
    client.subscribe(address.errors_topic, qos=1)
    client.loop_start()
    return client


def publish_feed(
    address: BrokerAddress,
    items: Iterable[FeedItem],
    reader_ids: tuple[str, ...],
    *,
    speed: float | None = None,
    on_item: Callable[[FeedItem], None] | None = None,
) -> WireStats:
    """Publish every item's readings (see the module docstring); OSError if the broker is away."""
    stats = WireStats()
    refusals = _Refusals()
    frame_id = frame_namer("m")
    pace = Pace(speed)
    client = _connect(address, refusals)
    try:
        for item in items:
            time.sleep(pace.wait_s(item))
            if isinstance(item, Readings):
                for rows, frame in frames_of(item, reader_ids, frame_id):
                    info = client.publish(address.readings_topic, frame, qos=1)
                    info.wait_for_publish(CONFIRM_TIMEOUT_S)
                    if not info.is_published():
                        raise TimeoutError(
                            f"the broker did not confirm a frame in {CONFIRM_TIMEOUT_S:.0f} s"
                        )
                    stats.frames += 1
                    stats.readings += rows
            else:
                stats.commands_skipped += 1
            if on_item is not None:
                on_item(item)
        time.sleep(ERRORS_GRACE_S)
    finally:
        client.disconnect()
        client.loop_stop()
    with refusals.lock:
        stats.errors.extend(refusals.messages)
    return stats
