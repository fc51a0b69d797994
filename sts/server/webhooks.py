"""Webhook senders: the feed's durable messages pushed to integrators, signed, retried.

One sender per `[webhooks.NAME]` target walks the feed log (the store is its queue, so
nothing waits in memory and a restart goes on from the target's cursor). Each wanted
message is POSTed as JSON, as an integrator sees it (no x, y unless the target has
`coordinates = true`), signed per attempt (transports/webhook_signing.py). A failure
(no connection, timeout, a status outside 2xx) is retried after `backoff_s`, doubling
up to `backoff_max_s`; after `max_attempts` the message becomes a dead letter and the
sender moves on. Messages pruned from the log before a target took them become a dead
letter too (`lost`). Messages go out in order, one at a time per target.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from store import feed_log, webhook_outbox
from store.db import transaction
from store.webhook_outbox import DeadLetter
from sts.server.feed import Durable
from sts.webhook_config import WebhookTarget
from transports.feed_protocol import View
from transports.webhook_signing import signed_headers

log = logging.getLogger("sts.serve.webhooks")

#: Messages read from the log at a time.
PAGE = 100

Post = Callable[[str, bytes, dict[str, str], float], int]


def http_post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
    """POST `body`; the HTTP status (raises OSError when there is no answer)."""
    request = urllib.request.Request(
        url, data=body, headers={**headers, "content-type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@dataclass
class Attempt:
    """How the last attempt at one message went."""

    ok: bool
    error: str


class WebhookSender:
    """Pushes one target's messages (see the module docstring)."""

    def __init__(
        self,
        target: WebhookTarget,
        conn: sqlite3.Connection,
        deliveries: Counter,
        post: Post = http_post,
    ) -> None:
        self.target = target
        self.conn = conn
        self.deliveries = deliveries
        self.post = post
        self.view = View(
            "integrator", grants=frozenset({"coordinates"} if target.coordinates else ())
        )
        self.wake = asyncio.Event()
        start = webhook_outbox.cursor(conn, target.name)
        self.cursor = feed_log.bounds(conn)[1] if start is None else start

    def notify(self, _durable: Durable | None = None) -> None:
        """New messages were stored (a Feed listener)."""
        self.wake.set()

    async def run(self) -> None:
        """Deliver forever, in order; wait for new messages when the log is drained."""
        while True:
            self.wake.clear()
            self._report_pruned()
            page = [Durable.from_log(row) for row in feed_log.after(self.conn, self.cursor, PAGE)]
            if not page:
                await self.wake.wait()
                continue
            for durable in page:
                if durable.message["type"] in self.target.types:
                    await self._deliver(durable)
                self._finish(durable.seq)

    async def _deliver(self, durable: Durable) -> None:
        body = json.dumps(self.view.redact(durable.message), separators=(",", ":")).encode()
        uid = str(durable.message.get("change") or durable.message["id"])
        attempt = Attempt(False, "")
        for number in range(1, self.target.max_attempts + 1):
            attempt = await self._attempt(uid, body)
            if attempt.ok:
                self.deliveries.labels(self.target.name, "delivered").inc()
                return
            if number < self.target.max_attempts:
                self.deliveries.labels(self.target.name, "retried").inc()
                await asyncio.sleep(self.target.delay_after(number))
        self._dead_letter(uid, self.target.max_attempts, attempt.error, body.decode())

    async def _attempt(self, uid: str, body: bytes) -> Attempt:
        headers = signed_headers(self.target.secret.encode(), uid, int(time.time()), body)
        try:
            status = await asyncio.to_thread(
                self.post, self.target.url, body, headers, self.target.timeout_s
            )
        except (OSError, ValueError) as exc:
            return Attempt(False, f"{type(exc).__name__}: {exc}")
        return Attempt(200 <= status < 300, f"HTTP {status}")

    def _dead_letter(self, uid: str, attempts: int, error: str, body: str) -> None:
        self.deliveries.labels(self.target.name, "dead_letter").inc()
        log.warning(
            "webhook %s: gave up on %s after %d attempts (%s)",
            self.target.name,
            uid,
            attempts,
            error,
        )
        letter = DeadLetter(time.time(), self.target.name, uid, attempts, error, body)
        with transaction(self.conn):
            webhook_outbox.add_dead_letter(self.conn, letter)

    def _finish(self, seq: int) -> None:
        self.cursor = seq
        with transaction(self.conn):
            webhook_outbox.set_cursor(self.conn, self.target.name, seq)

    def _report_pruned(self) -> None:
        oldest, _ = feed_log.bounds(self.conn)
        if oldest > self.cursor + 1:
            lost = f"messages {self.cursor + 1}..{oldest - 1} left the store before delivery"
            self._dead_letter(f"lost:{self.cursor + 1}-{oldest - 1}", 0, lost, "")
            self._finish(oldest - 1)


def senders(
    targets: tuple[WebhookTarget, ...], conn: sqlite3.Connection, registry: CollectorRegistry
) -> list[WebhookSender]:
    """One sender per configured target, counting into `registry`."""
    if not targets:
        return []
    deliveries = Counter(
        "sts_webhook_deliveries",
        "Webhook outcomes per target: delivered, retried, dead_letter",
        ["target", "outcome"],
        registry=registry,
    )
    return [WebhookSender(t, conn, deliveries) for t in targets]
