"""`sts serve` under bad input: every bad frame, token, ticket or origin gets an error
message or a clear close code, is counted in /metrics, and the others are untouched.

One server for the module; a subscriber signed in at the start must still get every
alert of the boiler-room scenario at the end. Role views and the log scan for student
data run on the same server.
"""

from __future__ import annotations

import asyncio
import csv
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from store.db import open_store, transaction
from store.tokens import find_token, revoke_token
from tests.serve.conftest import INTRUDERS
from tests.serve.live import (
    NORTHFIELD,
    TEST_CONFIG,
    ServerProcess,
    http,
    issue,
    raised,
    send_frames,
)
from tests.serve.scenario import T0, Scenario
from transports.feed_client import FeedError, Subscriber, post_ticket

pytestmark = pytest.mark.slow

CONFIG = TEST_CONFIG + "\n[ingest]\nmax_frame_bytes = 200000\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("bad"), config=CONFIG).start()
    yield proc
    proc.stop()


def ingest(server: ServerProcess, token: str) -> Any:
    return websockets.connect(
        server.ws_url + "/ingest", additional_headers={"Authorization": f"Bearer {token}"}
    )


async def feed_socket(server: ServerProcess, token: str, protocol: str = "sts.v1.json") -> Any:
    ticket = await post_ticket(server.url, token)
    ws = await websockets.connect(server.ws_url + "/feed", subprotocols=[protocol])
    await ws.send(json.dumps({"type": "auth", "ticket": ticket}))
    welcome = json.loads(await ws.recv())
    assert welcome["type"] == "welcome", welcome
    return ws


async def reply(ws: Any, frame: bytes | str) -> dict[str, Any]:
    await ws.send(frame)
    raw = await asyncio.wait_for(ws.recv(), 10)
    return msgpack.unpackb(raw) if isinstance(raw, bytes) else json.loads(raw)


async def next_of(ws: Any, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == kind:
                return message


def test_bad_gateway_frames_get_error_frames_and_are_counted(server: ServerProcess) -> None:
    gateway = issue(server.data, "gateway", "gw-bad")

    async def run() -> None:
        async with ingest(server, gateway) as ws:
            assert (await reply(ws, "{not json"))["code"] == "bad_frame"
            assert (await reply(ws, b"\xc1\xc1"))["code"] == "bad_frame"
            assert (await reply(ws, json.dumps({"type": "nope"})))["code"] == "unknown_type"
            wrong = {"type": "readings", "rows": [[1.0, "badge-0001", "rd-L0-boiler-room-1", "x"]]}
            assert (await reply(ws, json.dumps(wrong)))["code"] == "bad_field"
            columns = msgpack.packb({"type": "columns", "t": b"\x00" * 7, "rssi": []})
            assert (await reply(ws, columns))["code"] == "bad_field"
            early = T0 - 1000.0  # before the scenario, so its readings are not late
            rows = [
                [early, "badge-0001", "rd-nowhere", -60.0],
                [early, "badge-0001", "rd-L0-boiler-room-1", 12.0],
                [early, "badge-9999", "rd-L0-boiler-room-1", -60.0],
                [early, "badge-0001", "rd-L0-boiler-room-1", -60.0],
            ]
            ack = await reply(ws, json.dumps({"type": "readings", "id": "g1", "rows": rows}))
            assert ack["accepted"] == 1
            assert ack["rejected"] == {"unknown_reader": 1, "rssi_range": 1, "no_consent": 1}
            dup = await reply(ws, json.dumps({"type": "readings", "id": "g1", "rows": rows}))
            assert dup["duplicate"] is True
            await ws.send(json.dumps({"type": "readings", "rows": [], "pad": "x" * 300_000}))
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            assert ws.close_code == 1009
        async with ingest(server, gateway) as ws:  # the gateway comes back: all is well
            assert (await reply(ws, json.dumps({"type": "readings", "rows": []})))["type"] == "ack"
        for token in ("", "sts_forged", issue(server.data, "safety", "not-a-gateway")):
            with pytest.raises(InvalidStatus) as refused:
                await ingest(server, token).__aenter__()
            assert refused.value.response.status_code == 401

    asyncio.run(run())
    m = server.metrics()
    for code in ("bad_frame", "unknown_type", "bad_field", "duplicate"):
        assert m[f'sts_frames_rejected_total{{code="{code}",endpoint="/ingest"}}'] >= 1
    key = 'sts_readings_rejected_total{{gateway="gw-bad",reader="{}",reason="{}"}}'
    assert m[key.format("rd-nowhere", "unknown_reader")] == 1
    assert m[key.format("rd-L0-boiler-room-1", "rssi_range")] == 1
    assert m[key.format("rd-L0-boiler-room-1", "no_consent")] == 1


def test_bad_sign_ins_and_bad_messages_on_the_feed(server: ServerProcess) -> None:
    good = issue(server.data, "safety", "Kim")
    expired = issue(server.data, "safety", "Old", expires_at=time.time() - 1)

    async def run() -> None:
        for token in ("sts_forged", expired):
            with pytest.raises(FeedError, match="401"):
                await post_ticket(server.url, token)
        ticket = await post_ticket(server.url, good)
        async with websockets.connect(server.ws_url + "/feed", subprotocols=["sts.v1.json"]) as ws:
            await ws.send(json.dumps({"type": "auth", "ticket": ticket}))
            assert json.loads(await ws.recv())["type"] == "welcome"
        async with websockets.connect(server.ws_url + "/feed", subprotocols=["sts.v1.json"]) as ws:
            await ws.send(json.dumps({"type": "auth", "ticket": ticket}))  # replayed
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await ws.recv()
            assert ws.close_code == 4001
        async with websockets.connect(server.ws_url + "/feed", subprotocols=["sts.v1.json"]) as ws:
            await ws.send("hello")
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 4000
        async with websockets.connect(server.ws_url + "/feed") as ws:  # no subprotocol
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 4000
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(
                server.ws_url + "/feed", subprotocols=["sts.v1.json"], origin="http://evil.test"
            ).__aenter__()
        assert refused.value.response.status_code == 403

        ws = await feed_socket(server, good)
        assert (await reply(ws, "{oops"))["code"] == "bad_frame"
        assert (await reply(ws, json.dumps({"type": "dance"})))["code"] == "unknown_type"
        bad_filter = {"type": "subscribe", "filters": {"levels": "L0"}}
        assert (await reply(ws, json.dumps(bad_filter)))["code"] == "bad_field"
        big = json.dumps({"type": "subscribe", "pad": "x" * 70_000})
        assert (await reply(ws, big))["code"] == "too_large"
        unknown = {"type": "ack", "alert": "al-none", "note": "", "id": 7}
        error = await reply(ws, json.dumps(unknown))
        assert (error["type"], error["code"], error["ref"]) == ("error", "unknown_alert", 7)
        await ws.close()

    asyncio.run(run())
    m = server.metrics()
    assert m['sts_frames_rejected_total{code="origin",endpoint="/feed"}'] == 1
    assert m['sts_sign_ins_total{outcome="refused"}'] >= 3
    for code in ("bad_frame", "unknown_type", "bad_field", "too_large", "unknown_alert"):
        assert m[f'sts_frames_rejected_total{{code="{code}",endpoint="/feed"}}'] >= 1


def test_frames_go_uncompressed_even_to_a_client_that_offers_deflate(
    server: ServerProcess,
) -> None:
    """Encoded once, sent as is: per-connection compression would encode every frame again."""
    good = issue(server.data, "safety", "Deflate")

    async def run() -> None:
        ticket = await post_ticket(server.url, good)
        async with websockets.connect(
            server.ws_url + "/feed", subprotocols=["sts.v1.json"], compression="deflate"
        ) as ws:
            assert "permessage-deflate" in str(ws.request.headers["Sec-WebSocket-Extensions"])
            assert "Sec-WebSocket-Extensions" not in ws.response.headers
            await ws.send(json.dumps({"type": "auth", "ticket": ticket}))
            assert json.loads(await ws.recv())["type"] == "welcome"

    asyncio.run(run())


def test_a_revoked_token_closes_its_sockets(server: ServerProcess) -> None:
    token = issue(server.data, "safety", "Leaver")

    async def run() -> None:
        ws = await feed_socket(server, token)
        conn = open_store(server.data)
        info = find_token(conn, token)
        assert info is not None
        with transaction(conn):
            revoke_token(conn, info.id, time.time())
        conn.close()
        with pytest.raises(websockets.ConnectionClosed):
            async with asyncio.timeout(10):
                while True:
                    await ws.recv()
        assert ws.close_code == 4003
        with pytest.raises(FeedError):
            await post_ticket(server.url, token)

    asyncio.run(run())


def test_role_views_and_others_unaffected_and_no_student_data_in_logs(
    server: ServerProcess, scenario: Scenario
) -> None:
    gateway = issue(server.data, "gateway", "gw-1")
    tokens = {
        "safety": issue(server.data, "safety", "Sam"),
        "own-teacher": issue(server.data, "teacher", "Tess", groups=("Y7A",)),
        "other-teacher": issue(server.data, "teacher", "Tom", groups=("Y9A",)),
        "integrator": issue(server.data, "integrator", "LMS"),
        "mapper": issue(server.data, "integrator", "Map", grants=("coordinates",)),
        "auditor": issue(server.data, "auditor", "Audrey"),
    }

    async def run() -> dict[str, list[dict[str, Any]]]:
        feeds = {k: Subscriber(server.url, t) for k, t in tokens.items()}
        for f in feeds.values():
            await f.connect()
        got: dict[str, list[dict[str, Any]]] = {k: [] for k in feeds}

        async def listen(name: str) -> None:
            async for message in feeds[name]:
                got[name].append(message)

        tasks = [asyncio.create_task(listen(k)) for k in feeds]
        frames = list(enumerate(rows for _, rows in scenario.frames()))
        await send_frames(server.ws_url, gateway, frames, pace_s=0.005)
        wait_until = time.monotonic() + 60
        while sum(raised(m) for m in got["safety"]) < len(INTRUDERS):
            assert time.monotonic() < wait_until, "the safety team did not get every alert"
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        for t in tasks:
            t.cancel()
        for f in feeds.values():
            await f.close()
        return got

    got = asyncio.run(run())
    kinds = {k: {m["type"] for m in v} for k, v in got.items()}
    assert {"event", "alert", "positions"} <= kinds["safety"]
    every = {m["id"]: m["alert"]["tag"] for m in got["safety"] if raised(m)}
    assert set(INTRUDERS) <= set(every.values())
    y7a = {tag for tag, group in group_of().items() if group == "Y7A"}
    teacher_sees = {m["id"] for m in got["own-teacher"] if raised(m)}
    assert teacher_sees == {i for i, tag in every.items() if tag in y7a}
    assert not kinds["other-teacher"] & {"event", "alert", "positions"}
    assert "positions" not in kinds["integrator"]
    integrator_alerts = [m for m in got["integrator"] if raised(m)]
    assert len(integrator_alerts) == len(every)
    assert all("x" not in m["alert"]["evidence"] for m in integrator_alerts)
    assert all("x" in m["alert"]["evidence"] for m in got["mapper"] if raised(m))
    assert not kinds["auditor"] & {"event", "alert", "positions"}

    log = server.log.read_text()
    with (NORTHFIELD / "roster.csv").open() as fh:
        for row in csv.DictReader(fh):
            for value in (row["tag"], row["name"], row["student_id"]):
                assert value not in log, f"{value!r} appears in the server log"


def group_of() -> dict[str, str]:
    """Tag -> group, from the roster."""
    with (NORTHFIELD / "roster.csv").open() as fh:
        return {row["tag"]: row["group"] for row in csv.DictReader(fh)}


def test_failed_sign_ins_are_rate_limited(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, config=TEST_CONFIG.replace("1000", "3")).start()
    good = issue(server.data, "safety", "Kim")

    async def run() -> None:
        for _ in range(3):
            with pytest.raises(FeedError, match="401"):
                await post_ticket(server.url, "sts_guess")
        with pytest.raises(FeedError, match="429"):
            await post_ticket(server.url, good)

    try:
        asyncio.run(run())
        assert server.metric('sts_sign_ins_total{outcome="rate_limited"}') >= 1
        status, _ = http(server.url + "/healthz")
        assert status == 200
    finally:
        server.stop()
