"""Training mode: a simulated school in a real `sts serve`, marked and kept apart."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serve.live import ROOT, ServerProcess, http, issue, take, wait_for
from tests.serve.test_wire import SCENARIO
from transports.feed_client import Subscriber

pytestmark = pytest.mark.slow


def test_training_is_marked_everywhere_and_kept_apart_from_real_data(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO)
    server = ServerProcess(tmp_path, source=("--training", str(scenario), "--speed", "20"))
    training = server.data / "training"
    training.mkdir(parents=True)
    token = issue(training, "safety", "Trainee")
    server.start()
    try:
        assert "TRAINING" in server.log.read_text()
        status, body = http(server.url + "/healthz")
        assert status == 200 and json.loads(body)["training"] is True

        async def run() -> None:
            only = {"types": ["alert", "event", "positions"]}
            async with Subscriber(server.url, token, filters=only, after_seq=0) as feed:
                assert feed.welcome["training"] is True
                got = await take(feed, lambda m: m["type"] == "alert", 1, timeout_s=60)
                assert got[0]["training"] is True
                # a backlog of alerts may come first: wait for each kind, whatever the order
                rest = await take(feed, lambda m: m["type"] == "event", 1, timeout_s=60)
                rest += await take(feed, lambda m: m["type"] == "positions", 1, timeout_s=60)
                assert all(m.get("training") is True for m in rest)

        asyncio.run(run())
        wait_for(
            "readings from the training gateway",
            lambda: server.metric('sts_readings_in_total{gateway="training"}') > 0,
            10,
            server.log,
        )
    finally:
        server.stop()
    assert (training / "sts.sqlite3").exists()
    assert not (server.data / "sts.sqlite3").exists()  # nothing written beside real data

    real = subprocess.run(
        [
            sys.executable,
            "-m",
            "sts",
            "serve",
            "--site",
            str(server.site),
            "--data",
            str(training),
            "--port",
            "0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert real.returncode == 2
    assert "TRAINING data" in real.stderr and "never mix" in real.stderr
    assert "Traceback" not in real.stderr
