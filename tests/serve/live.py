"""Real processes for the server tests: `sts serve`, mosquitto, a gateway, metrics.

Nothing is mocked: the server is `python -m sts serve` on a free loopback port with
its own data folder; the broker is the system's mosquitto. Every wait is bounded and
fails with a message that says what did not happen (and the server's log).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterable, Callable, Iterable
from pathlib import Path
from typing import Any

import websockets

from store.db import open_store, transaction
from store.tokens import issue_token

ROOT = Path(__file__).resolve().parents[2]
NORTHFIELD = ROOT / "floorplans" / "northfield"

#: Fast timings for tests (seconds); each test may add to it.
TEST_CONFIG = """
[feed]
heartbeat_s = 2.0
slow_after_s = 1.5
send_buffer_bytes = 8192
revocation_poll_s = 0.3
max_failures = 1000
"""


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    what: str, check: Callable[[], bool], timeout_s: float, log: Path | None = None
) -> None:
    """Poll `check` until true; fail naming `what` (and showing the log) after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
    raise AssertionError(f"{what}: not within {timeout_s} s\n{tail}")


def issue(data: Path, role: str, name: str, **kwargs: Any) -> str:
    """A token in the data folder's store (as `sts tokens issue` makes)."""
    conn = open_store(data)
    with transaction(conn):
        token, _ = issue_token(conn, name=name, role=role, now=time.time(), **kwargs)
    conn.close()
    return token


class ServerProcess:
    """`sts serve` in its own process."""

    def __init__(
        self,
        tmp: Path,
        config: str = TEST_CONFIG,
        tick_s: float = 0.1,
        site: Path = NORTHFIELD,
        source: tuple[str, ...] = (),
    ) -> None:
        self.site = site
        self.source = source or ("--site", str(site))  # or ("--training", SCENARIO, ...)
        self.data = tmp / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.config = tmp / "sts.toml"
        self.config.write_text(config)
        self.log = tmp / "server.log"
        self.tick_s = tick_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> ServerProcess:
        """Start and wait until it listens."""
        self.starts += 1
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "sts",
                    "serve",
                    *self.source,
                    "--port",
                    str(self.port),
                    "--data",
                    str(self.data),
                    "--config",
                    str(self.config),
                    "--tick",
                    str(self.tick_s),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        wanted = self.starts
        wait_for(
            "the server to listen",
            lambda: self.log.read_text().count("listening on") >= wanted,
            60,
            self.log,
        )
        return self

    def kill9(self) -> None:
        """SIGKILL: no shutdown of any kind."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then wait (SIGKILL after 10 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def metrics(self) -> dict[str, float]:
        """/metrics as {name{labels}: value}."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as r:
            text = r.read().decode()
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    def metric(self, prefix: str) -> float:
        """The sum of every sample whose name{labels} starts with `prefix`."""
        return sum(v for k, v in self.metrics().items() if k.startswith(prefix))


def http(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """(status, body) of a plain request."""
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Mosquitto:
    """The system's mosquitto on a free loopback port, configured in a temp folder."""

    def __init__(self, tmp: Path) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not os.path.exists(binary):
            raise AssertionError("mosquitto is not installed: `apt-get install -y mosquitto`")
        self.port = free_port()
        conf = tmp / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )
        self.log = tmp / "mosquitto.log"
        self.command = [binary, "-c", str(conf)]
        self.start()

    def start(self) -> None:
        """Run the broker and wait until it listens."""
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(self.command, stdout=log, stderr=log)

        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        wait_for("mosquitto to listen", listening, 20, self.log)

    def stop(self) -> None:
        """Terminate the broker."""
        self.proc.terminate()
        self.proc.wait(10)


async def send_frames(
    ws_url: str,
    token: str,
    frames: Iterable[tuple[int, list[list[object]]]],
    pace_s: float = 0.0,
) -> list[dict[str, Any]]:
    """Send (frame number, rows) frames to /ingest as JSON, each acknowledged; the replies."""
    replies = []
    async with websockets.connect(
        ws_url + "/ingest", additional_headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        for number, rows in frames:
            await ws.send(json.dumps({"type": "readings", "id": f"f{number}", "rows": rows}))
            replies.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
            if pace_s:
                await asyncio.sleep(pace_s)
    return replies


async def take(
    feed: AsyncIterable[dict[str, Any]],
    want: Callable[[dict[str, Any]], bool],
    n: int,
    timeout_s: float = 60.0,
) -> list[dict[str, Any]]:
    """The next `n` messages of a feed that `want` accepts (fails after the timeout)."""
    got: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout_s):
            async for message in feed:
                if want(message):
                    got.append(message)
                    if len(got) >= n:
                        return got
    except TimeoutError:
        pass
    raise AssertionError(f"wanted {n} messages within {timeout_s} s, got {len(got)}: {got}")


def raised(message: dict[str, Any]) -> bool:
    """An alert message that raises a new alert."""
    return message["type"] == "alert" and message["alert"]["state"] == "raised"
