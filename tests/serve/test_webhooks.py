"""Webhooks: signatures, configuration, and delivery to a real local HTTP receiver."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from geometry.errors import ConfigError
from store import feed_log, webhook_outbox
from store.db import open_store, transaction
from sts.serve_config import parse_config
from sts.server.webhooks import senders
from sts.webhook_config import WebhookTarget
from tests.serve.conftest import INTRUDERS
from tests.serve.live import TEST_CONFIG, ServerProcess, issue, send_frames, wait_for
from tests.serve.receiver import Receiver
from tests.serve.scenario import Scenario
from transports.webhook_signing import signed_headers, verify

SECRET = "a-shared-secret-of-some-length"


def test_a_signature_checks_and_tampering_or_skew_fails() -> None:
    key, body, now = SECRET.encode(), b'{"type":"alert"}', 1_800_000_000
    headers = signed_headers(key, "al-1", now, body)
    assert verify(key, headers, body, now + 10)
    assert verify(key, {k.upper(): v for k, v in headers.items()}, body, now)
    assert not verify(key, headers, body + b" ", now)
    assert not verify(b"another-secret-entirely", headers, body, now)
    assert not verify(key, {**headers, "webhook-id": "al-2"}, body, now)
    assert not verify(key, headers, body, now + 301)
    assert not verify(key, headers, body, now - 301)
    assert verify(key, headers, body, now + 400, tolerance_s=500)
    rotated = {**headers, "webhook-signature": "v1,bm90LWl0 " + headers["webhook-signature"]}
    assert verify(key, rotated, body, now)


def test_webhook_tables_are_read_and_every_problem_is_named() -> None:
    config = parse_config(
        {
            "webhooks": {
                "district": {
                    "url": "https://d.example/h",
                    "secret": SECRET,
                    "types": ["alert", "event"],
                    "max_attempts": 3,
                }
            }
        },
        "sts.toml",
    )
    (target,) = config.webhooks
    assert (target.name, target.types, target.max_attempts) == ("district", ("alert", "event"), 3)
    assert [target.delay_after(n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    bad = {
        "webhooks": {
            "x": {
                "url": "ftp://x",
                "secret": "short",
                "types": ["positions"],
                "colour": 1,
                "timeout_s": "soon",
            }
        }
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(bad, "sts.toml")
    text = str(caught.value)
    for key in (
        "webhooks.x.url",
        "webhooks.x.secret",
        "webhooks.x.types",
        "webhooks.x.colour",
        "webhooks.x.timeout_s",
    ):
        assert key in text


def _store_alerts(conn, n: int) -> None:  # type: ignore[no-untyped-def]
    with transaction(conn):
        for i in range(n):
            alert = {
                "id": f"al-{i}",
                "tag": f"b-{i}",
                "severity": "critical",
                "state": "raised",
                "zone": "L0-boiler-room",
                "evidence": {"x": 1.0, "y": 2.0, "level": "L0"},
            }
            body = {"type": "alert", "id": f"al-{i}", "change": f"ac-{i}", "alert": alert}
            feed_log.append(
                conn,
                at=time.time(),
                kind="alert",
                uid=f"ac-{i}",
                tag=f"b-{i}",
                body=json.dumps(body),
            )
        event = {"type": "event", "id": "ev-1", "event": {"tag": "b-0", "kind": "entered"}}
        feed_log.append(
            conn, at=time.time(), kind="event", uid="ev-1", tag="b-0", body=json.dumps(event)
        )


async def _deliver(tmp_path: Path, url: str, n: int, **limits: object) -> list:  # type: ignore[type-arg]
    """Run one sender over `n` stored alerts until it has finished with all of them."""
    conn = open_store(tmp_path)
    target = WebhookTarget(
        "district", url, SECRET, backoff_s=0.02, backoff_max_s=0.05, timeout_s=2.0, **limits
    )  # type: ignore[arg-type]
    (sender,) = senders((target,), conn, CollectorRegistry())
    _store_alerts(conn, n)
    task = asyncio.create_task(sender.run())
    last = feed_log.bounds(conn)[1]
    async with asyncio.timeout(20):
        while webhook_outbox.cursor(conn, "district") != last:
            await asyncio.sleep(0.02)
    task.cancel()
    letters = webhook_outbox.dead_letters(conn)
    conn.close()
    return letters


def test_a_receiver_that_fails_then_recovers_gets_everything_once_in_order(
    tmp_path: Path,
) -> None:
    with Receiver([500, 503, 200]) as receiver:
        letters = asyncio.run(_deliver(tmp_path, receiver.url, 3, max_attempts=4))
    assert letters == []
    got = receiver.accepted()
    assert [json.loads(r.body)["id"] for r in got] == ["al-0", "al-1", "al-2"]
    assert [r.headers["webhook-id"] for r in receiver.requests[:3]] == ["ac-0"] * 3
    for r in got:
        assert verify(SECRET.encode(), r.headers, r.body, time.time())
        evidence = json.loads(r.body)["alert"]["evidence"]
        assert evidence == {"level": "L0"}  # an integrator sees no coordinates


def test_a_receiver_that_never_recovers_leaves_dead_letters(tmp_path: Path) -> None:
    with Receiver([503]) as receiver:
        letters = asyncio.run(_deliver(tmp_path, receiver.url, 2, max_attempts=3))
    assert len(receiver.requests) == 6
    assert [(d.uid, d.attempts, d.error) for d in letters] == [
        ("ac-0", 3, "HTTP 503"),
        ("ac-1", 3, "HTTP 503"),
    ]
    assert json.loads(letters[0].body)["id"] == "al-0"


def test_no_listener_at_all_is_a_dead_letter_not_a_silence(tmp_path: Path) -> None:
    with Receiver([200]) as gone:
        url = gone.url  # closed again: nothing listens on this port now
    letters = asyncio.run(_deliver(tmp_path, url, 1, max_attempts=2))
    assert [(d.uid, d.attempts) for d in letters] == [("ac-0", 2)]
    assert "Error" in letters[0].error


@pytest.mark.slow
def test_sts_serve_pushes_signed_alerts_to_a_receiver(tmp_path: Path, scenario: Scenario) -> None:
    with Receiver([500, 200]) as receiver:
        config = TEST_CONFIG + (
            f'\n[webhooks.district]\nurl = "{receiver.url}"\nsecret = "{SECRET}"\n'
            "backoff_s = 0.05\n"
        )
        server = ServerProcess(tmp_path, config=config).start()
        try:
            gateway = issue(server.data, "gateway", "gw-1")
            frames = list(enumerate(rows for _, rows in scenario.frames()))
            asyncio.run(send_frames(server.ws_url, gateway, frames, pace_s=0.005))

            def raised_alerts() -> list[dict[str, object]]:
                bodies = [json.loads(r.body) for r in receiver.accepted()]
                return [b for b in bodies if b["alert"]["state"] == "raised"]  # type: ignore[index]

            wait_for("four alerts pushed", lambda: len(raised_alerts()) == 4, 60, server.log)
            metric = 'sts_webhook_deliveries_total{outcome="retried",target="district"}'
            assert server.metric(metric) == 1
        finally:
            server.stop()
    assert [a["alert"]["tag"] for a in raised_alerts()] == list(INTRUDERS)  # type: ignore[index]
    assert all(verify(SECRET.encode(), r.headers, r.body, time.time()) for r in receiver.accepted())
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
