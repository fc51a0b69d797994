"""Run a scenario into a simulation folder, and drive the engine from a feed: what
`sts simulate`, `replay`, `evaluate` and `drill` share.

The engine of a simulation folder is always built the same way (`folder_site`): the
folder's floorplan (the campus plan, with readers placed if it had none), the campus's
rules, timetable and calibration (or another calibration file, or none: `Calibration`),
and the folder's roster (the simulated population).
A run that feeds the engine while it simulates and a replay of the recording therefore
configure identical engines, and `drive` gives both the same calls in the same order.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.roster import Roster
from simulator.campus import CampusSim, World, build_world
from simulator.feed import Command, FeedItem, Readings
from simulator.population import build_population, roster_of
from simulator.reader_placement import place_readers
from simulator.scenario import Scenario
from simulator.truth import Segments, true_breaches, visits_of
from sts.floorplan_io import write_floorplan
from sts.hub import Hub
from sts.recording_pseudonyms import pseudonymised
from sts.roster_csv import ROSTER_COLUMNS, read_roster
from sts.sim_folder import FeedReader, FeedWriter, TruthWriter, write_breaches, write_people
from sts.site import Site, SiteFiles, load_site
from transports.pseudonyms import SCHEME, Pseudonyms

RECORDING = "recording"
TRUTH = "truth"


@dataclass(frozen=True, slots=True)
class Prepared:
    """A scenario ready to run: the campus as loaded and the simulated world."""

    scenario: Scenario
    campus: Site
    world: World


def prepare(scenario: Scenario) -> Prepared:
    """Load the scenario's campus, place readers if it has none, draw the population."""
    campus = load_site(SiteFiles.campus(scenario.campus))
    floorplan = place_readers(campus.floorplan)
    timetable = campus.timetable.timetable if campus.timetable is not None else None
    groups = sorted(timetable.groups) if timetable is not None else []
    people = build_population(scenario.population, campus.roster, groups, scenario.seed)
    return Prepared(scenario, campus, build_world(floorplan, timetable, people, scenario))


def write_roster(path: Path, roster: Roster) -> None:
    """A roster as roster.csv."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(ROSTER_COLUMNS)
        for e in roster.entries:
            w.writerow(
                [e.student_id, e.tag, e.name, e.group, "granted" if e.consent else "refused"]
            )


def _header(prepared: Prepared) -> dict[str, Any]:
    sc, world = prepared.scenario, prepared.world
    start = world.day_epoch + sc.start_s
    return {
        "source": "sts simulate",
        "site": world.floorplan.site.name,
        "campus": str(sc.campus),
        "scenario": sc.name,
        "seed": sc.seed,
        "t_start": start,
        "t_end": start + sc.duration_s,
        "mode": sc.evacuation.mode,
        "readers": [r.id for r in world.floorplan.readers],
    }


def _scenario_json(sc: Scenario) -> str:
    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        return v if isinstance(v, int | float | str | bool) or v is None else str(v)

    return json.dumps(plain(sc), indent=1, sort_keys=True) + "\n"


@dataclass(frozen=True, slots=True)
class Calibration:
    """Which path-loss calibration a replay's engine uses (default: the campus's own)."""

    path: Path | None = None  # a file from `sts calibrate` instead of the campus's
    off: bool = False  # none: the plan's nominal reader model

    def files(self, campus: SiteFiles) -> SiteFiles:
        """The campus's site files with this choice of calibration."""
        if self.off:
            return dataclasses.replace(campus, calibration=None)
        if self.path is not None:
            return dataclasses.replace(campus, calibration=self.path)
        return campus


def folder_site(
    folder: Path, campus: Path | None = None, calibration: Calibration = Calibration()
) -> Site:
    """The engine's site for a simulation folder (see the module docstring)."""
    header = FeedReader(folder / RECORDING).header
    campus_files = calibration.files(SiteFiles.campus(campus or Path(header["campus"])))
    files = dataclasses.replace(campus_files, floorplan=folder / "floorplan.geojson")
    site = load_site(files)
    return dataclasses.replace(site, roster=read_roster(folder / "roster.csv"))


def drive(hub: Hub, item: FeedItem) -> None:
    """One feed item into the engine: a tick of readings, or a command."""
    if isinstance(item, Command):
        hub.command(item.name, **item.args)
    elif len(item.batch):
        hub.readings(item.batch, item.tag_ids)
    else:
        hub.advance(item.t1)


def drive_all(
    hub: Hub, items: Iterable[FeedItem], on_item: Callable[[FeedItem], None] | None = None
) -> None:
    """Every item of a feed into the engine, then the flush at its end."""
    for item in items:
        drive(hub, item)
        if on_item is not None:
            on_item(item)
    hub.flush()


@dataclass(frozen=True, slots=True)
class SimSummary:
    """What a simulation produced."""

    readings: int
    ticks: int
    commands: int
    segments: int
    breaches: int


def simulate(
    prepared: Prepared,
    out: Path,
    *,
    engine_hub: Callable[[Site], Hub] | None = None,
    on_item: Callable[[FeedItem], None] | None = None,
    truth: bool = True,
    pseudonyms: Pseudonyms | None = None,
) -> tuple[SimSummary, Hub | None]:
    """Run the scenario into `out` (recording, truth, roster); with `engine_hub`, also
    through the engine it builds for the folder's site, tick by tick as it runs. With
    `pseudonyms`, every tag the folder holds is a pseudonym (sts/recording_pseudonyms.py)."""
    world, sc = prepared.world, prepared.scenario
    out.mkdir(parents=True, exist_ok=True)
    write_floorplan(world.floorplan, out / "floorplan.geojson")
    people = world.people
    header = _header(prepared)
    if pseudonyms is not None:
        people = tuple(dataclasses.replace(p, tag=pseudonyms.of(p.tag)) for p in people)
        header["pseudonyms"] = {"scheme": SCHEME, "key_id": pseudonyms.key_id}
    roster = roster_of(people)
    write_roster(out / "roster.csv", roster)
    write_people(out / "people.csv", people)
    (out / "scenario.json").write_text(_scenario_json(sc), encoding="utf-8")
    feed = FeedWriter(out / RECORDING, header)
    feed.log.flush()
    hub = engine_hub(folder_site(out)) if engine_hub is not None else None
    truth_log = TruthWriter(out / TRUTH) if truth else None
    sim = CampusSim(world, sc)
    parts: list[Segments] = []
    readings = ticks = commands = 0
    for item in sim.feed():
        if pseudonyms is not None:
            item = pseudonymised(item, pseudonyms)
        feed.write(item)
        if hub is not None:
            drive(hub, item)
        if isinstance(item, Readings):
            readings, ticks = readings + len(item.batch), ticks + 1
            segments = sim.truth.take()
            if truth_log is not None:
                truth_log.write(segments)
                parts.append(segments)
        else:
            commands += 1
        if on_item is not None:
            on_item(item)
    feed.close()
    if hub is not None:
        hub.flush()
    breaches = []
    if truth_log is not None:
        truth_log.close()
        breaches = _breaches(prepared, roster, Segments.concat(parts))
        write_breaches(out / "breaches.jsonl", breaches)
    total = sum(len(p) for p in parts)
    return SimSummary(readings, ticks, commands, total, len(breaches)), hub


def _breaches(prepared: Prepared, roster: Roster, segments: Segments) -> list[Any]:
    rules = prepared.campus.rules
    if rules is None:
        return []
    timetable = prepared.world.timetable
    return true_breaches(
        visits_of(segments),
        prepared.world.graph.zones,
        [e.tag for e in roster.entries],
        [e.group for e in roster.entries],
        rules,
        timetable.calendar if timetable is not None else None,
    )


def open_feed(
    folder: Path, campus: Path | None = None, calibration: Calibration = Calibration()
) -> tuple[FeedReader, Site]:
    """The feed of a simulation folder (or a bare recording with `campus`) and its site."""
    if (folder / RECORDING).is_dir():
        return FeedReader(folder / RECORDING), folder_site(folder, campus, calibration)
    if campus is None:
        from geometry.errors import InputError

        raise InputError(
            f"{folder}: not a simulation folder (no recording/ inside); for a bare recording "
            "give the campus with --campus"
        )
    return FeedReader(folder), load_site(calibration.files(SiteFiles.campus(campus)))
