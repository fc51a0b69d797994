"""Faults around a running `sts serve`: a client gone mid-frame, a broker that restarts,
and a subscriber that resumes from a time."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import websockets

from store import feed_log
from store.db import open_store
from tests.serve.conftest import INTRUDERS
from tests.serve.live import (
    TEST_CONFIG,
    Mosquitto,
    ServerProcess,
    issue,
    raised,
    send_frames,
    take,
    wait_for,
)
from tests.serve.scenario import Scenario
from tests.serve.test_serve_e2e import numbered
from transports.feed_client import Subscriber, post_ticket

pytestmark = pytest.mark.slow


async def vanish_mid_frame(url: str, **connect: object) -> None:
    """Open a WebSocket, send the head of a 1,000-byte frame and 10 bytes of it, then drop
    the TCP connection without a close handshake."""
    ws = await websockets.connect(url, **connect)  # type: ignore[arg-type]
    header = bytes([0x82, 0x80 | 126]) + (1000).to_bytes(2, "big") + os.urandom(4)
    ws.transport.write(header + b"0123456789")
    await asyncio.sleep(0.2)
    ws.transport.abort()


def test_clients_that_vanish_mid_frame_are_counted_and_harm_no_one(
    tmp_path: Path, scenario: Scenario
) -> None:
    server = ServerProcess(tmp_path).start()
    gateway = issue(server.data, "gateway", "gw-1")
    token = issue(server.data, "safety", "Sam")

    async def run() -> None:
        async with Subscriber(server.url, token, filters={"types": ["alert"]}) as feed:
            auth = {"Authorization": f"Bearer {gateway}"}
            await vanish_mid_frame(server.ws_url + "/ingest", additional_headers=auth)
            await vanish_mid_frame(server.ws_url + "/feed", subprotocols=["sts.v1.json"])
            ticket = await post_ticket(server.url, token)
            signed_in = await websockets.connect(
                server.ws_url + "/feed",
                subprotocols=["sts.v1.json"],  # type: ignore[list-item]
            )
            await signed_in.send(json.dumps({"type": "auth", "ticket": ticket}))
            assert json.loads(await signed_in.recv())["type"] == "welcome"
            signed_in.transport.write(bytes([0x81, 0x80 | 50]) + os.urandom(4) + b"{")
            signed_in.transport.abort()
            await send_frames(server.ws_url, gateway, numbered(scenario), pace_s=0.005)
            alerts = await take(feed, raised, len(INTRUDERS))
            assert [m["alert"]["tag"] for m in alerts] == list(INTRUDERS)

    try:
        asyncio.run(run())
        wait_for(
            "both vanished connections counted",
            lambda: server.metric("sts_connections_vanished_total") >= 2,
            10,
            server.log,
        )
        assert server.metric('sts_connections_vanished_total{endpoint="/ingest"}') == 1
        assert server.metric('sts_connections_vanished_total{endpoint="/feed"}') >= 1
    finally:
        server.stop()


def test_ingest_over_mqtt_resumes_after_the_broker_restarts(
    tmp_path: Path, scenario: Scenario
) -> None:
    broker = Mosquitto(tmp_path)
    config = TEST_CONFIG + f"\n[mqtt]\nenabled = true\nport = {broker.port}\n"
    server = ServerProcess(tmp_path, config=config).start()
    token = issue(server.data, "safety", "Sam")
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="gw-7")
    publisher.reconnect_delay_set(0.2, 1)
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    frames = numbered(scenario)
    # the first alert is out after about 70 s of data; the others follow the restart
    first, second = frames[:80], frames[80:]

    def publish(part: list[tuple[int, list[list[object]]]]) -> None:
        for number, rows in part:
            frame = json.dumps({"type": "readings", "id": f"m{number}", "rows": rows})
            publisher.publish("sts/gw-7/readings", frame, qos=1).wait_for_publish(10)

    def subscribed(times: int) -> bool:
        return server.log.read_text().count("subscribed to MQTT") >= times

    async def run() -> None:
        async with Subscriber(server.url, token, filters={"types": ["alert"]}) as feed:
            wait_for("the server to subscribe", lambda: subscribed(1), 20, server.log)
            await asyncio.to_thread(publish, first)
            before = await take(feed, raised, 1)
            broker.stop()
            time.sleep(1.0)
            broker.start()
            wait_for("the server back on the broker", lambda: subscribed(2), 30, server.log)
            wait_for("the gateway back on the broker", publisher.is_connected, 30, broker.log)
            await asyncio.to_thread(publish, second)
            after = await take(feed, raised, len(INTRUDERS) - 1)
            assert [m["alert"]["tag"] for m in before + after] == list(INTRUDERS)

    try:
        asyncio.run(run())
        assert "MQTT broker connection lost" in server.log.read_text()
    finally:
        publisher.loop_stop()
        server.stop()
        broker.stop()


def test_a_subscriber_resumes_from_a_time(tmp_path: Path, scenario: Scenario) -> None:
    server = ServerProcess(tmp_path).start()
    gateway = issue(server.data, "gateway", "gw-1")
    token = issue(server.data, "safety", "Sam")
    try:
        asyncio.run(send_frames(server.ws_url, gateway, numbered(scenario), pace_s=0.02))
        wait_for(
            "four alerts",
            lambda: server.metric('sts_alerts_total{severity="critical",state="raised"}') == 4,
            30,
            server.log,
        )
        conn = open_store(server.data)
        stored = [m for m in feed_log.after(conn, 0, 100_000) if m.kind == "alert"]
        conn.close()
        since = (stored[1].at + stored[2].at) / 2  # between the second and the third alert

        async def run() -> list[dict[str, object]]:
            ticket = await post_ticket(server.url, token)
            async with websockets.connect(
                server.ws_url + "/feed",
                subprotocols=["sts.v1.json"],  # type: ignore[list-item]
            ) as ws:
                await ws.send(json.dumps({"type": "auth", "ticket": ticket}))
                resume = {"since": since}
                await ws.send(
                    json.dumps(
                        {"type": "subscribe", "resume": resume, "filters": {"types": ["alert"]}}
                    )
                )
                got = []
                async with asyncio.timeout(20):
                    while len([m for m in got if m["type"] == "alert"]) < 2:
                        got.append(json.loads(await ws.recv()))
                return got

        messages = asyncio.run(run())
    finally:
        server.stop()
    subscribed = next(m for m in messages if m["type"] == "subscribed")
    assert stored[1].seq <= subscribed["after_seq"] < stored[2].seq  # type: ignore[operator]
    alerts = [m for m in messages if m["type"] == "alert"]
    assert [m["alert"]["tag"] for m in alerts] == list(INTRUDERS[2:])  # type: ignore[index]
