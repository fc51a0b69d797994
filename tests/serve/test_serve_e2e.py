"""`sts serve` end to end: real server process, real sockets, a real broker.

Each test runs the boiler-room scenario (four students walk into a restricted zone,
one after another: four critical alerts) through a gateway into a fresh server.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import websockets

from sts.site import SiteFiles, load_site
from tests.serve.conftest import INTRUDERS
from tests.serve.live import (
    NORTHFIELD,
    TEST_CONFIG,
    Mosquitto,
    ServerProcess,
    issue,
    raised,
    send_frames,
    take,
    wait_for,
)
from tests.serve.scenario import Scenario, boiler_room
from transports.feed_client import Subscriber, post_ticket

pytestmark = pytest.mark.slow


def numbered(scenario: Scenario, start: int = 0) -> list[tuple[int, list[list[object]]]]:
    """The scenario's frames with their numbers, from `start` on."""
    frames = [rows for _, rows in scenario.frames()]
    return list(enumerate(frames))[start:]


@pytest.fixture
def server(tmp_path: Path):
    proc = ServerProcess(tmp_path).start()
    yield proc
    proc.stop()


def test_alert_reaches_subscribers_and_an_ack_reaches_the_other(
    server: ServerProcess, scenario: Scenario
) -> None:
    gateway = issue(server.data, "gateway", "gw-1")
    sam = issue(server.data, "safety", "Sam")
    kim = issue(server.data, "safety", "Kim")

    async def run() -> None:
        only = {"types": ["alert", "record"]}
        async with (
            Subscriber(server.url, sam, filters=only, binary=False) as a,
            Subscriber(server.url, kim, filters=only, binary=True) as b,
        ):
            await send_frames(server.ws_url, gateway, numbered(scenario), pace_s=0.005)
            alerts_a = await take(a, raised, len(INTRUDERS))
            alerts_b = await take(b, raised, len(INTRUDERS))
            assert [m["alert"]["tag"] for m in alerts_a] == list(INTRUDERS)
            assert [m["id"] for m in alerts_a] == [m["id"] for m in alerts_b]
            assert len({m["id"] for m in alerts_a}) == len(INTRUDERS)
            seqs = [m["seq"] for m in alerts_a]
            assert seqs == sorted(seqs) and all(isinstance(s, int) and s > 0 for s in seqs)
            assert all(m["alert"]["severity"] == "critical" for m in alerts_a)
            assert all(m["alert"]["zone"] == "L0-boiler-room" for m in alerts_a)

            first = alerts_a[0]["id"]
            await a.ack(first, "on my way", ref="r1")
            done = await take(a, lambda m: m["type"] in ("done", "error"), 1)
            assert done[0] == {**done[0], "type": "done", "ref": "r1", "state": "acknowledged"}
            change = await take(b, lambda m: m["type"] == "alert" and m["id"] == first, 1)
            assert change[0]["alert"]["state"] == "acknowledged"
            assert change[0]["alert"]["acknowledged_by"] == "Sam"
            record = await take(b, lambda m: m["type"] == "record", 1)
            assert record[0]["record"]["kind"] == "alert_acknowledged"
            assert record[0]["record"]["reason"] == "on my way"
            assert record[0]["record"]["subject"] == first

            await b.resolve(first, "student brought back to class", ref="r2")
            await take(a, lambda m: m["type"] == "alert" and m["alert"]["state"] == "resolved", 1)
            await b.resolve(first, "again", ref="r3")
            error = await take(b, lambda m: m["type"] == "error", 1)
            assert error[0]["code"] == "illegal_transition" and error[0]["ref"] == "r3"

    asyncio.run(run())


def test_a_subscriber_that_comes_back_gets_exactly_what_it_missed(
    server: ServerProcess, scenario: Scenario
) -> None:
    gateway = issue(server.data, "gateway", "gw-1")
    token = issue(server.data, "safety", "Sam")
    only = {"types": ["alert"]}

    async def run() -> None:
        sending = asyncio.create_task(
            send_frames(server.ws_url, gateway, numbered(scenario), pace_s=0.02)
        )
        async with Subscriber(server.url, token, filters=only, reconnect=False) as feed:
            first = await take(feed, raised, 1)
        last_seen = first[0]["seq"]
        await sending
        wait_for(
            "all four alerts to be raised",
            lambda: server.metric('sts_alerts_total{severity="critical",state="raised"}') == 4,
            30,
            server.log,
        )
        async with Subscriber(server.url, token, filters=only, after_seq=last_seen) as again:
            missed = await take(again, raised, len(INTRUDERS) - 1)
            assert [m["alert"]["tag"] for m in missed] == list(INTRUDERS[1:])
            assert all(m["seq"] > last_seen for m in missed)
            # Nothing else is owed: the next message is a live one, not a durable replay.
            extra = await take(again, lambda m: True, 1, timeout_s=10)
            assert extra[0]["type"] == "heartbeat"

    asyncio.run(run())


def test_kill_9_mid_stream_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, scenario: Scenario
) -> None:
    server = ServerProcess(tmp_path).start()
    gateway = issue(server.data, "gateway", "gw-1")
    token = issue(server.data, "safety", "Sam")
    frames = numbered(scenario)
    acked: list[int] = []

    async def gateway_until_killed(start: int) -> None:
        try:
            async with websockets.connect(
                server.ws_url + "/ingest", additional_headers={"Authorization": f"Bearer {gateway}"}
            ) as ws:
                for number, rows in frames[start:]:
                    await ws.send(
                        json.dumps({"type": "readings", "id": f"f{number}", "rows": rows})
                    )
                    reply = json.loads(await ws.recv())
                    assert reply["type"] == "ack", reply
                    acked.append(number)
                    await asyncio.sleep(0.01)
        except websockets.ConnectionClosed:
            return

    async def run() -> None:
        alerts: list[dict[str, object]] = []

        async def listen(feed: Subscriber) -> None:
            async for message in feed:
                if message["type"] == "alert":
                    alerts.append(message)

        async with Subscriber(server.url, token, filters={"types": ["alert"]}) as feed:
            listener = asyncio.create_task(listen(feed))
            sending = asyncio.create_task(gateway_until_killed(0))
            wait_until = asyncio.get_running_loop().time() + 60
            while not any(raised(m) for m in alerts):  # at least one alert before the kill
                assert asyncio.get_running_loop().time() < wait_until, "no alert before kill"
                await asyncio.sleep(0.05)
            server.kill9()
            await sending
            server.start()
            # The gateway resends from the last frame it saw acknowledged, that one included.
            await gateway_until_killed(acked[-1])
            wait_for_alerts = asyncio.get_running_loop().time() + 60
            while sum(raised(m) for m in alerts) < len(INTRUDERS):
                assert asyncio.get_running_loop().time() < wait_for_alerts, alerts
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # anything duplicated would arrive now
            listener.cancel()
        tags = [m["alert"]["tag"] for m in alerts if raised(m)]
        assert sorted(tags) == sorted(INTRUDERS), tags
        changes = [m["change"] for m in alerts]
        assert len(changes) == len(set(changes)), "an alert change was delivered twice"
        assert feed.connections >= 2

    try:
        asyncio.run(run())
        assert server.metric('sts_frames_rejected_total{code="duplicate"') >= 1
    finally:
        server.stop()


def repeated(scenario: Scenario, rounds: int) -> list[tuple[int, list[list[object]]]]:
    """The scenario's frames again and again, each round later in data time."""
    span = scenario.t1 - scenario.t0
    out = []
    for k in range(rounds):
        for number, rows in numbered(scenario):
            shifted = [[t + k * span, *rest] for t, *rest in rows]  # type: ignore[operator]
            out.append((k * 10_000 + number, shifted))
    return out


def test_a_client_that_never_reads_is_closed_and_the_others_keep_receiving(
    tmp_path: Path,
) -> None:
    site = load_site(SiteFiles.campus(NORTHFIELD))
    crowd = tuple(e.tag for e in site.roster.entries if e.consent and e.group != "staff")
    busy = boiler_room(site.floorplan, crowd, first_s=5, gap_s=1, tail_s=5)
    server = ServerProcess(tmp_path).start()
    gateway = issue(server.data, "gateway", "gw-1")
    token = issue(server.data, "safety", "Sam")
    stalled_token = issue(server.data, "safety", "Stalled")

    async def stalled_client() -> websockets.ClientConnection:
        ticket = await post_ticket(server.url, stalled_token)
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        ws = await websockets.connect(
            server.ws_url + "/feed", subprotocols=["sts.v1.json"], sock=sock, max_queue=1
        )
        await ws.send(json.dumps({"type": "auth", "ticket": ticket}))
        await ws.send(json.dumps({"type": "subscribe"}))
        return ws  # and never read from it again

    async def evicted() -> bool:
        return await asyncio.to_thread(server.metric, 'sts_evictions_total{code="4008"}') >= 1

    async def run() -> None:
        stalled = await stalled_client()
        received: list[dict[str, object]] = []

        async def listen(feed: Subscriber) -> None:
            async for message in feed:
                received.append(message)

        async with Subscriber(server.url, token, filters={"types": ["positions"]}) as feed:
            listener = asyncio.create_task(listen(feed))
            frames = repeated(busy, 20)
            for start in range(0, len(frames), 40):
                await send_frames(server.ws_url, gateway, frames[start : start + 40], pace_s=0.01)
                if await evicted():
                    break
            assert await evicted(), "the client that never reads was not closed as too slow"
            before = len(received)
            await send_frames(server.ws_url, gateway, frames[start + 40 : start + 80], pace_s=0.01)
            await asyncio.sleep(1.0)
            assert len(received) > before, "the reading client stopped receiving"
            listener.cancel()
        try:
            async with asyncio.timeout(30):
                async for _ in stalled:
                    pass
        except websockets.ConnectionClosed:
            pass
        assert stalled.state.name == "CLOSED"

    try:
        asyncio.run(run())
        assert server.metric('sts_evictions_total{code="4008"}') == 1, "only the stalled one"
    finally:
        server.stop()


def test_readings_over_mqtt_raise_the_alerts(tmp_path: Path, scenario: Scenario) -> None:
    broker = Mosquitto(tmp_path)
    config = TEST_CONFIG + f"\n[mqtt]\nenabled = true\nport = {broker.port}\n"
    server = ServerProcess(tmp_path, config=config).start()
    token = issue(server.data, "safety", "Sam")
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="gw-7")
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()

    async def run() -> None:
        async with Subscriber(server.url, token, filters={"types": ["alert"]}) as feed:
            publisher.publish("sts/gw-7/readings", b"\xc1 not msgpack", qos=1).wait_for_publish(10)
            for number, rows in numbered(scenario):
                frame = json.dumps({"type": "readings", "id": f"m{number}", "rows": rows})
                publisher.publish("sts/gw-7/readings", frame, qos=1).wait_for_publish(10)
            alerts = await take(feed, raised, len(INTRUDERS))
            assert [m["alert"]["tag"] for m in alerts] == list(INTRUDERS)

    try:
        asyncio.run(run())
        assert server.metric('sts_readings_in_total{gateway="mqtt:gw-7"}') > 0
        assert server.metric('sts_frames_rejected_total{code="bad_frame",endpoint="/ingest"}') == 1
    finally:
        publisher.loop_stop()
        server.stop()
        broker.stop()
