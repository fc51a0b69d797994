"""A real HTTP receiver on 127.0.0.1 for the webhook tests, scripted to fail or accept.

`Receiver(statuses)` answers the n-th POST with `statuses[n]` (the last one repeats) and
keeps every request's headers and body. It runs http.server in a thread; use it as a
context manager so the port is closed after the test.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    """One POST as received."""

    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """A scripted webhook endpoint (see the module docstring)."""

    statuses: list[int]
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def __enter__(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    n = len(receiver.requests)
                    status = receiver.statuses[min(n, len(receiver.statuses) - 1)]
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.requests.append(Request(headers, body, status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def accepted(self) -> list[Request]:
        """The requests answered with a 2xx."""
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300]
