"""Recordings carry keyed-HMAC pseudonyms, never real badge ids, and replay the same.

A simulated morning on Northfield (whose roster's real badges come first in the
simulated population) is written with a pseudonym key: no file of the folder holds a
real tag; replayed, it gives the events of the same morning recorded in clear, with
each tag replaced by its pseudonym; the same key gives the same bytes, another key
other pseudonyms, and a replay to a server with the wrong key is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from store.crypto import decode_key
from sts.cli import main
from sts.roster_csv import read_roster
from sts.simulation import prepare, simulate
from tests.serve.live import NORTHFIELD
from tests.serve.test_wire import SCENARIO
from transports.pseudonyms import Pseudonyms
from transports.recording import RecordingReader


def read_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(SCENARIO)
    return path


def folder_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def replayed_events(folder: Path, out: Path) -> list[dict[str, object]]:
    assert main(["replay", str(folder), "--events-out", str(out)]) == 0
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same morning in clear (the function, as `sts drill` runs it) and twice
    pseudonymised with one key (the command), once with another key."""
    tmp = tmp_path_factory.mktemp("rec")
    scenario = read_scenario(tmp)
    import argparse

    from sts.scenario_args import scenario_from  # the command's own reading of the file

    args = argparse.Namespace(scenario=scenario, students=None, duration=None, seed=None)
    simulate(prepare(scenario_from(args)), tmp / "clear")
    for name, key in (("a", "k1"), ("b", "k1"), ("other", "k2")):
        keyfile = tmp / f"{key}.key"
        argv = ["simulate", str(scenario), "--out", str(tmp / name), "--pseudonym-key"]
        assert main([*argv, str(keyfile)]) == 0
    return {"tmp": tmp, **{n: tmp / n for n in ("clear", "a", "b", "other")}}


def test_no_real_badge_id_in_any_file(runs: dict[str, Path]) -> None:
    real = [e.tag for e in read_roster(NORTHFIELD / "roster.csv").entries]
    clear, pseudonymised = folder_bytes(runs["clear"]), folder_bytes(runs["a"])
    assert real[0].encode() in clear  # the control: the clear folder holds them
    for tag in real:
        assert tag.encode() not in pseudonymised, tag
    header = next(RecordingReader(runs["a"] / "recording").records())
    assert header["pseudonyms"]["scheme"] == "hmac-sha256/64"
    assert b"ps-" in pseudonymised


def test_the_same_key_gives_the_same_bytes_another_key_other_ids(runs: dict[str, Path]) -> None:
    assert folder_bytes(runs["a"]) == folder_bytes(runs["b"])
    tags_a = (runs["a"] / "people.csv").read_text().splitlines()[1].split(",")[0]
    tags_other = (runs["other"] / "people.csv").read_text().splitlines()[1].split(",")[0]
    assert tags_a.startswith("ps-") and tags_other.startswith("ps-") and tags_a != tags_other


def test_replay_gives_the_same_events_with_pseudonymous_ids(runs: dict[str, Path]) -> None:
    pseudonyms = Pseudonyms(decode_key((runs["tmp"] / "k1.key").read_text(), "k1"))
    clear = replayed_events(runs["clear"], runs["tmp"] / "clear.jsonl")
    hidden = replayed_events(runs["a"], runs["tmp"] / "a.jsonl")
    assert clear, "the morning should have zone events"
    assert hidden == [pseudonymous(e, pseudonyms) for e in clear]


def pseudonymous(event: dict[str, object], pseudonyms: Pseudonyms) -> dict[str, object]:
    """An event of the clear run as the pseudonymised run must give it: every tag
    (its own, and the one its visit id starts with) replaced by its pseudonym."""
    tag, visit = str(event["tag"]), str(event["visit"])
    if visit:  # an `outside` event has no visit
        assert visit.startswith(tag + ":")
        visit = pseudonyms.of(tag) + visit[len(tag) :]
    return {**event, "tag": pseudonyms.of(tag), "visit": visit}


def test_replay_to_a_server_refuses_a_wrong_key(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["replay", str(runs["a"]), "--url", "ws://127.0.0.1:9", "--token", "t"]
    assert main([*argv, "--pseudonym-key", str(runs["tmp"] / "k2.key")]) == 2
    assert "pseudonymised with key" in capsys.readouterr().err
