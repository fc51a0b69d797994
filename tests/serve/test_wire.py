"""Simulated and recorded schools into a real `sts serve` over the ingest WebSocket and
through a real MQTT broker, and `sts loadtest` against it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from store.crypto import decode_key
from sts.roster_csv import read_roster
from tests.serve.live import (
    NORTHFIELD,
    ROOT,
    TEST_CONFIG,
    Mosquitto,
    ServerProcess,
    free_port,
    issue,
)
from transports.feed_client import Subscriber
from transports.pseudonyms import Pseudonyms

pytestmark = pytest.mark.slow

SCENARIO = f"""
version = 1
name = "wire test"
campus = "{NORTHFIELD}"
date = 2026-11-30
start = "10:05"
duration_min = 4
seed = 5

[population]
students = 30
absent_rate = 0.0

[behaviour]
restricted_per_day = 40
"""


def sts(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI; fail with its output when it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "sts", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


#: An alert as both sides can name it: (rule, tag, zone, time).
AlertKey = tuple[str, str, str, float]


def alert_key(alert: dict[str, Any]) -> AlertKey:
    return (alert["rule"], alert["tag"], alert["zone"], alert["t"])


def raised_in_clear(lines: str, key: Path) -> list[AlertKey]:
    """The alerts raised, from alert JSON lines of a pseudonymised recording, with the
    campus badges' real tags (the server knows badges by their tags)."""
    pseudonyms = Pseudonyms(decode_key(key.read_text(), str(key)))
    real = pseudonyms.reverse(e.tag for e in read_roster(NORTHFIELD / "roster.csv").entries)
    alerts = [json.loads(line) for line in lines.splitlines() if line.strip()]
    return sorted(
        alert_key({**a, "tag": real.get(a["tag"], a["tag"])})
        for a in alerts
        if a["state"] == "raised"
    )


async def alerts_while(server: ServerProcess, token: str, command: list[str]) -> list[AlertKey]:
    """The alerts raised on the feed while `command` runs (and 4 s after)."""
    got: list[AlertKey] = []
    async with Subscriber(server.url, token, filters={"types": ["alert"]}) as feed:

        async def collect() -> None:
            async for m in feed:
                if m["type"] == "alert" and m["alert"]["state"] == "raised":
                    got.append(alert_key(m["alert"]))

        collecting = asyncio.create_task(collect())
        await asyncio.to_thread(sts, *command)
        await asyncio.sleep(4.0)  # the server flushes after ingest.idle_s of silence
        collecting.cancel()
    return sorted(got)


def in_process_alerts(tmp_path: Path) -> tuple[Path, Path, tuple[str, str], list[AlertKey]]:
    """The scenario file, its (pseudonymised) recording, the pseudonym key option, and the
    alerts its replay raises in process, with real tags."""
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "day"
    key = ("--pseudonym-key", str(tmp_path / "pseudonym.key"))
    sts("simulate", str(scenario), "--out", str(out), *key)
    alerts = tmp_path / "alerts.jsonl"
    sts("replay", str(out), "--events-out", str(tmp_path / "ev.jsonl"), "--alerts-out", str(alerts))
    expected = raised_in_clear(alerts.read_text(), tmp_path / "pseudonym.key")
    assert expected, "the scenario should raise alerts in process"
    return scenario, out, key, expected


def test_a_recording_and_a_simulation_sent_to_the_server_raise_the_engines_alerts(
    tmp_path: Path,
) -> None:
    scenario, out, key, expected = in_process_alerts(tmp_path)
    for n, command in enumerate((["replay", str(out), *key], ["simulate", str(scenario)])):
        (tmp_path / f"s{n}").mkdir()
        server = ServerProcess(tmp_path / f"s{n}").start()
        try:
            gateway = issue(server.data, "gateway", "sim")
            token = issue(server.data, "safety", "Sam")
            wire = [*command, "--url", server.ws_url, "--token", gateway]
            assert asyncio.run(alerts_while(server, token, wire)) == expected, command[0]
        finally:
            server.stop()


def test_a_recording_and_a_simulation_published_through_mqtt_raise_the_engines_alerts(
    tmp_path: Path,
) -> None:
    scenario, out, key, expected = in_process_alerts(tmp_path)
    broker = Mosquitto(tmp_path)
    config = TEST_CONFIG + f"\n[mqtt]\nenabled = true\nport = {broker.port}\n"
    try:
        for n, command in enumerate((["replay", str(out), *key], ["simulate", str(scenario)])):
            (tmp_path / f"s{n}").mkdir()
            server = ServerProcess(tmp_path / f"s{n}", config=config).start()
            try:
                token = issue(server.data, "safety", "Sam")
                wire = [*command, "--url", f"mqtt://127.0.0.1:{broker.port}", "--gateway", "gw-3"]
                assert asyncio.run(alerts_while(server, token, wire)) == expected, command[0]
                assert server.metric('sts_readings_in_total{gateway="mqtt:gw-3"}') > 0
            finally:
                server.stop()
    finally:
        broker.stop()


def test_an_mqtt_url_without_a_broker_is_refused_without_a_traceback(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO)
    port = free_port()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sts",
            "simulate",
            str(scenario),
            "--url",
            f"mqtt://127.0.0.1:{port}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "cannot publish to the broker" in done.stderr and "Traceback" not in done.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "sts", "simulate", str(scenario), "--url", "mqtt://h/x/y"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "--gateway" in bad.stderr


def test_loadtest_reports_throughput_loss_latency_and_the_server(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path).start()
    try:
        gateway = issue(server.data, "gateway", "load")
        token = issue(server.data, "safety", "bench")
        done = sts(
            "loadtest",
            "--url",
            server.ws_url,
            "--site",
            str(NORTHFIELD),
            "--students",
            "30",
            "--duration",
            "15",
            "--token",
            gateway,
            "--feed-token",
            token,
        )
    finally:
        server.stop()
    text: Any = done.stdout
    assert "rejected: none, unaccounted 0" in text
    assert "alerts raised and received: 1 (badges walking into a restricted zone: 1)" in text
    assert "reading-to-alert latency: p50" in text
    assert "server: CPU" in text and "resident memory" in text
