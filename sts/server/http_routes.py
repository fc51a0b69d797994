"""Plain HTTP on the WebSocket port: health, metrics, floorplan, sign-in tickets, static files.

websockets hands every request to `process_request` before its handshake; a response
here ends the request, `None` lets /feed and /ingest go on to the WebSocket handshake
(after the Origin allow-list and, for /ingest, the gateway's token are checked).
"""

from __future__ import annotations

import json
import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from store.tokens import TokenInfo
from sts.server.audit_hooks import audit_access
from sts.server.auth import Authenticator
from sts.server.metrics import Metrics

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
WEBSOCKET_PATHS = ("/feed", "/ingest")


def respond(status: int, body: bytes | str | dict[str, Any], content_type: str = "") -> Response:
    """A complete HTTP response (JSON for dicts)."""
    if isinstance(body, dict):
        body, content_type = json.dumps(body), "application/json"
    data = body.encode() if isinstance(body, str) else body
    headers = Headers(
        [
            ("Content-Type", content_type or "text/plain; charset=utf-8"),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
        ]
    )
    return Response(status, HTTPStatus(status).phrase, headers, data)


def bearer(request: Request) -> str:
    """The token of an `Authorization: Bearer ...` header, or ''."""
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def remote(connection: ServerConnection) -> str:
    """The peer's address (the rate limiter's key)."""
    peer = connection.remote_address
    return str(peer[0]) if peer else "?"


@dataclass
class HttpRoutes:
    """The process_request hook of the server (see the module docstring)."""

    auth: Authenticator
    metrics: Metrics
    origins: frozenset[str]
    floorplan: bytes
    health: Callable[[], dict[str, Any]]
    gateways: dict[int, TokenInfo]
    #: The dashboard's reads under /api/ (sts/server/dashboard_api.py), when served.
    api: Callable[[ServerConnection, Request, str], Response] | None = None

    def __call__(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path in WEBSOCKET_PATHS:
            return self._websocket(connection, request, path)
        if request.method == "POST" and path == "/auth/ticket":
            return self._ticket(connection, request)
        if path.startswith("/api/") and self.api is not None:
            return self.api(connection, request, path)
        if request.method != "GET":
            return respond(405, "method not allowed\n")
        if path == "/healthz":
            status = self.health()
            return respond(200 if status["ready"] else 503, status)
        if path == "/metrics":
            return respond(200, self.metrics.render(), "text/plain; version=0.0.4")
        if path == "/floorplan.geojson":
            return respond(200, self.floorplan, "application/geo+json")
        return self._static(path)

    def _websocket(
        self, connection: ServerConnection, request: Request, path: str
    ) -> Response | None:
        origin = request.headers.get("Origin")
        if origin is not None and origin not in self.origins:
            self.metrics.frames_rejected.labels(path, "origin").inc()
            return respond(403, "origin not allowed; add it to feed.origins in sts.toml\n")
        if path == "/ingest":
            now = time.time()
            if self.auth.limiter.blocked(remote(connection), now):
                self.metrics.sign_ins.labels("rate_limited").inc()
                return respond(429, "too many failed sign-ins; wait and try again\n")
            info = self.auth.check_token(bearer(request), now)
            if info is None or info.role != "gateway":
                self.auth.limiter.fail(remote(connection), now)
                self.metrics.sign_ins.labels("refused").inc()
                return respond(401, "ingest needs a gateway token: Authorization: Bearer ...\n")
            self.gateways[id(connection)] = info
        return None

    def _ticket(self, connection: ServerConnection, request: Request) -> Response:
        now = time.time()
        address = remote(connection)
        if self.auth.limiter.blocked(address, now):
            self.metrics.sign_ins.labels("rate_limited").inc()
            return respond(429, {"error": "rate_limited", "message": "too many failed sign-ins"})
        info = self.auth.check_token(bearer(request), now)
        if info is None or info.role == "gateway":
            self.auth.limiter.fail(address, now)
            self.metrics.sign_ins.labels("refused").inc()
            return respond(
                401,
                {"error": "forbidden", "message": "unknown, expired or revoked token"},
            )
        self.metrics.sign_ins.labels("ticket").inc()
        ticket = self.auth.issue_ticket(info, now)
        audit_access(self.auth.conn, info, "sign_in")
        return respond(200, {"ticket": ticket, "expires_in": self.auth.ticket_ttl_s})

    def _static(self, path: str) -> Response:
        rel = path.lstrip("/") or "index.html"
        target = (STATIC_DIR / rel).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(STATIC_DIR) or not target.is_file():
            return respond(404, "not found\n")
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        return respond(200, target.read_bytes(), kind)
