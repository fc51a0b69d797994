"""The SimPy campus end to end: same seed same bytes, replay equals the direct run, any plan."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from geometry.errors import ConfigError
from simulator.scenario import load_scenario
from simulator.truth import visits_of
from simulator.walk_graph import WalkGraph
from sts.cli import main
from sts.hub import Hub
from sts.sim_folder import FeedReader, read_breaches, read_truth
from sts.simulation import RECORDING, TRUTH, prepare, simulate
from sts.sinks import JsonLinesSink
from sts.site import build_engine

ROOT = Path(__file__).resolve().parents[2]
NORTHFIELD = ROOT / "floorplans" / "northfield"
MINI_SCHOOL = ROOT / "tests" / "data" / "imdf" / "mini-school"


def scenario_file(tmp_path: Path, campus: Path, body: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(
        f'version = 1\nname = "test"\ncampus = "{campus}"\ndate = 2026-11-30\n' + body,
        encoding="utf-8",
    )
    return path


DRILL = """
start = "10:41:00"
duration_min = 4
seed = 5
[population]
students = 24
staff = 2
[evacuation]
pre_movement_s = 10
[[events]]
at = "10:42"
type = "fire_alarm"
[[events]]
at = "10:41:30"
type = "reader_failure"
reader = "rd-L0-corridor-a-1"
"""


def _bytes_of(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    path = scenario_file(tmp_path, NORTHFIELD, DRILL)
    runs = {}
    for name, seed in (("a", None), ("b", None), ("c", 6)):
        sc = load_scenario(path).with_overrides(duration_s=120, seed=seed)
        simulate(prepare(sc), tmp_path / name)
        runs[name] = _bytes_of(tmp_path / name)
    assert runs["a"] == runs["b"]
    assert runs["a"]["recording/seg-00000000.stsrec"] != runs["c"]["recording/seg-00000000.stsrec"]
    assert len(runs["a"]["truth/seg-00000000.stsrec"]) > 1000


def test_replay_gives_the_events_of_the_direct_run(tmp_path):
    sc = load_scenario(scenario_file(tmp_path, NORTHFIELD, DRILL))
    events, alerts = io.StringIO(), io.StringIO()
    summary, hub = simulate(
        prepare(sc),
        tmp_path / "run",
        engine_hub=lambda site: Hub(build_engine(site), [JsonLinesSink(events, alerts)]),
    )
    assert summary.commands == 1 and hub is not None and hub.stats.events > 50
    out = tmp_path / "replayed.jsonl"
    alerts_out = tmp_path / "alerts.jsonl"
    code = main(
        [
            "replay",
            str(tmp_path / "run"),
            "--fast",
            "--events-out",
            str(out),
            "--alerts-out",
            str(alerts_out),
        ]
    )
    assert code == 0
    assert out.read_text(encoding="utf-8") == events.getvalue()
    assert alerts_out.read_text(encoding="utf-8") == alerts.getvalue()
    assert '"kind":"enter"' in events.getvalue().replace(" ", "")


def test_the_alarm_sends_people_to_the_muster_points(tmp_path):
    sc = load_scenario(scenario_file(tmp_path, NORTHFIELD, DRILL))
    prepared = prepare(sc)
    simulate(prepared, tmp_path / "run")
    truth = read_truth(tmp_path / "run" / TRUTH)
    graph = prepared.world.graph
    musters = {i for i, z in enumerate(graph.zones) if z.kind == "muster_point"}
    end = truth.t1.max()
    present = np.unique(truth.tag)
    _, _, _, zone = truth.at(present.astype(np.int32), np.full(len(present), end))
    at_muster = np.isin(zone, list(musters)).mean()
    assert at_muster > 0.6  # pre-movement 10 s, two minutes to walk out: most are there
    commands = [
        i for i in FeedReader(tmp_path / "run" / RECORDING).items() if not hasattr(i, "batch")
    ]
    assert [c.name for c in commands] == ["start_evacuation"]
    assert commands[0].args["mode"] == "drill"


@pytest.mark.parametrize(
    ("rates", "rule", "zones"),
    [
        (
            "restricted_per_day = 3.0",
            "restricted-areas",
            {"L0-boiler-room", "L1-roof-access"},
        ),
        (
            "staff_only_per_day = 3.0\nstaff_only_min = [4.0, 6.0]",
            "staff-only-areas",
            {"L0-staff-room", "L0-kitchen", "L1-science-prep"},
        ),
    ],
)
def test_a_visit_to_a_forbidden_zone_is_a_true_breach(tmp_path, rates, rule, zones):
    body = f"""
start = "09:05"
duration_min = 50
seed = 3
[population]
students = 6
staff = 0
absent_rate = 0.0
late_rate = 0.0
dead_badge_rate = 0.0
locker_badge_rate = 0.0
[behaviour]
restroom_per_hour = 0.0
leave_safe_area_per_day = 0.0
{rates}
"""
    sc = load_scenario(scenario_file(tmp_path, NORTHFIELD, body))
    simulate(prepare(sc), tmp_path / "run", truth=True)
    breaches = read_breaches(tmp_path / "run" / "breaches.jsonl")
    assert {b.rule for b in breaches} == {rule}
    assert all(b.zone in zones for b in breaches)
    assert all(b.t_end > b.t >= b.t_start for b in breaches)


def test_imported_imdf_building_gets_readers_and_runs(tmp_path, capsys):
    body = (
        'start = "09:10"\nduration_min = 3\nseed = 1\ntimezone = "Europe/Berlin"\n'
        "[population]\nstudents = 20\n"
    )
    path = scenario_file(tmp_path, MINI_SCHOOL, body)
    assert main(["simulate", str(path), "--out", str(tmp_path / "run")]) == 0
    recorded = _bytes_of(tmp_path / "run")
    # A second day into the same folder is refused, and the first is left as it was.
    assert main(["simulate", str(path), "--out", str(tmp_path / "run")]) == 2
    assert "already holds a recording" in capsys.readouterr().err
    assert _bytes_of(tmp_path / "run") == recorded
    assert main(["evaluate", str(tmp_path / "run")]) == 0
    table = capsys.readouterr().out
    assert "room-level accuracy" in table
    header = FeedReader(tmp_path / "run" / RECORDING).header
    assert header["readers"] and all(r.startswith("rd-auto-") for r in header["readers"])
    fixes = int(table.split("fixes scored")[1].split()[0].replace(",", ""))
    assert fixes > 500


def test_every_northfield_zone_is_reachable_and_stairs_join_the_floors():
    from sts.floorplan_io import load_floorplan

    graph = WalkGraph(load_floorplan(NORTHFIELD).floorplan)
    gate = graph.zone_number["L0-main-gate"]
    roof = graph.zone_number["L1-roof-access"]
    steps = graph.steps(gate, roof, graph.centre(roof))
    assert any(s.climb for s in steps) and steps[-1].zone == roof
    assert {graph.zones[z].id for z in graph.reachable} >= {
        "L1-library",
        "L0-muster-a",
        "L0-staff-car-park",
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('start = "25:00"\n', "start: not a time"),
        ("duration_min = -1\n", "duration_min: must be a positive number"),
        ("[population]\nstudnets = 3\n", "population.studnets: unknown key"),
        ("[behaviour]\nrestroom_min = [5, 1]\n", "behaviour.restroom_min: must be [low, high]"),
        (
            '[[events]]\nat = "10:00"\ntype = "flood"\n',
            "events[0].type: unknown event type 'flood'",
        ),
        ('[[events]]\nat = "10:00"\ntype = "reader_failure"\n', "events[0].reader: a reader event"),
        ("[population]\nabsent_rate = 3\n", "population.absent_rate: is a fraction"),
    ],
)
def test_scenario_problems_name_the_key_and_the_fix(tmp_path, body, message):
    with pytest.raises(ConfigError, match="Fix:") as err:
        load_scenario(scenario_file(tmp_path, NORTHFIELD, body))
    assert message in str(err.value)


def test_unknown_reader_in_an_event_is_a_config_error(tmp_path):
    body = (
        'start = "09:00"\nduration_min = 1\n'
        '[[events]]\nat = "09:00"\ntype = "reader_failure"\nreader = "R12"\n'
    )
    code = main(
        ["simulate", str(scenario_file(tmp_path, NORTHFIELD, body)), "--out", str(tmp_path / "x")]
    )
    assert code == 2


def test_the_sample_scenarios_are_valid():
    for path in sorted((NORTHFIELD / "scenarios").glob("*.toml")):
        sc = load_scenario(path)
        assert sc.campus == NORTHFIELD and sc.duration_s > 0


def test_nobody_walks_through_a_restricted_or_staff_only_zone_on_the_way_elsewhere():
    from sts.floorplan_io import load_floorplan

    graph = WalkGraph(load_floorplan(NORTHFIELD).floorplan)
    closed = {"restricted", "staff_only", "storage", "restroom", "parking"}
    for a, b in [
        ("L0-cafeteria", "L0-sports-field"),
        ("L0-gym", "L0-east-path"),
        ("L0-classroom-1", "L0-muster-b"),
    ]:
        if a not in graph.zone_number or b not in graph.zone_number:
            continue
        start, goal = graph.zone_number[a], graph.zone_number[b]
        crossed = [
            graph.zones[s.zone].kind for s in graph.steps(start, goal, graph.centre(goal))[:-1]
        ]
        assert not closed & {str(k) for k in crossed}, (a, b, crossed)
    boiler = graph.zone_number["L0-boiler-room"]
    assert (
        graph.steps(graph.zone_number["L0-east-path"], boiler, graph.centre(boiler))[-1].zone
        == boiler
    )


@pytest.mark.parametrize("campus", [NORTHFIELD, ROOT / "tests" / "data" / "imdf" / "mini-school"])
def test_every_walk_inside_a_zone_stays_inside_it(campus):
    from shapely.geometry import LineString

    from sts.floorplan_io import load_floorplan

    graph = WalkGraph(load_floorplan(campus).floorplan)
    walks = graph.walks_inside()
    assert walks
    for zone, a, b in walks:
        polygon = graph.zones[zone].polygon.buffer(0.05)
        assert polygon.covers(LineString([(a.x, a.y), (b.x, b.y)])), (graph.zones[zone].id, a, b)


def test_radio_overrides_take_negative_levels_and_whole_numbers(tmp_path):
    body = (
        "[radio]\nrssi_1m = -61\nsensitivity_dbm = -95\ncandidates = 8\n"
        "[population]\nstudents = 12\n"
    )
    sc = load_scenario(scenario_file(tmp_path, NORTHFIELD, body))
    assert (sc.radio.rssi_1m, sc.radio.sensitivity_dbm, sc.radio.candidates) == (-61.0, -95.0, 8)
    assert sc.population.students == 12
    with pytest.raises(ConfigError, match=r"radio\.candidates: must be a whole number"):
        load_scenario(scenario_file(tmp_path, NORTHFIELD, "[radio]\ncandidates = 2.5\n"))


def test_a_survey_stands_in_every_reachable_zone(tmp_path):
    body = """
start = "16:30"
duration_min = 40
seed = 9
[population]
students = 0
staff = 4
absent_rate = 0.0
dead_badge_rate = 0.0
[survey]
stop_s = 5
stops_per_zone = 2
walk_allowance_s = 10
"""
    prepared = prepare(load_scenario(scenario_file(tmp_path, NORTHFIELD, body)))
    simulate(prepared, tmp_path / "run")
    visits = visits_of(read_truth(tmp_path / "run" / TRUTH))
    surveyed = {v.zone for v in visits if v.t_out - v.t_in >= 5.0}
    assert surveyed >= set(prepared.world.graph.reachable)
    assert {v.tag for v in visits} == {0, 1, 2, 3}
