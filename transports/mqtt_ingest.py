"""Reader ingest from an MQTT broker: gateways publish frames, the server subscribes.

Most BLE gateways publish to MQTT. The server holds one persistent session (a fixed
client id, clean_session off) so the broker keeps QoS 1 messages while the server is
down, and acknowledges each message only after `on_frame` has journaled it (manual
acks): a message the broker saw acknowledged is never lost, one that was not comes
again. paho runs its network loop in its own thread and reconnects by itself; frames
are handed to the asyncio loop, which owns everything else.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

log = logging.getLogger("sts.serve.mqtt")


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Where the broker is and which topics carry frames."""

    host: str
    port: int
    topic: str  # a subscription filter, e.g. sts/+/readings
    gateway_level: int  # which level of a message's topic names its gateway
    qos: int
    client_id: str


def gateway_of(topic: str, level: int) -> str:
    """The gateway id a topic names ('' when the topic is too short)."""
    parts = topic.split("/")
    return parts[level] if 0 <= level < len(parts) else ""


class MqttSource:
    """Subscribes to gateway frames and hands each to `on_frame(gateway, payload)`."""

    def __init__(
        self,
        settings: MqttSettings,
        on_frame: Callable[[str, bytes], dict[str, Any]],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.settings = settings
        self.on_frame = on_frame
        self.loop = loop
        self.connected = False
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            clean_session=False,
            manual_ack=True,
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        self.client = client

    def start(self) -> None:
        """Connect in the background (retrying until the broker is there)."""
        self.client.connect_async(self.settings.host, self.settings.port, keepalive=15)
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT broker refused the connection: %s", reason)
            return
        self.connected = True
        client.subscribe(self.settings.topic, qos=self.settings.qos)
        log.info("subscribed to MQTT %s", self.settings.topic)

    def _on_disconnect(self, *_args: Any) -> None:
        self.connected = False
        log.warning("MQTT broker connection lost; reconnecting")

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self.loop.call_soon_threadsafe(self._deliver, message)

    def _deliver(self, message: mqtt.MQTTMessage) -> None:
        gateway = gateway_of(message.topic, self.settings.gateway_level)
        reply = self.on_frame(gateway or "(no gateway)", bytes(message.payload))
        if reply.get("type") == "error":
            base = message.topic.rsplit("/", 1)[0]
            self.client.publish(f"{base}/errors", json.dumps(reply), qos=0)
        self.client.ack(message.mid, message.qos)
