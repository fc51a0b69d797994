"""The site loader: a campus's files -> one validated `Site` -> a configured `Engine`.

Every shell (`sts track`, `sts demo`, and the server, simulator and replay to come)
builds its Engine here, so the same files always give the same engine. A campus
folder holds `floorplan.geojson` and, by convention, `rules.toml`, `roster.csv`,
`timetable.toml` and `calibration.toml`; each may also be named on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from engine.engine import Engine
from engine.locate import LocatorConfig
from engine.roster import Roster
from engine.rules import RulesConfig, RuleSet
from engine.zone_state import Hysteresis, KindHysteresis
from geometry.errors import Problem
from geometry.model import Floorplan
from sts.calibration_toml import CalibrationFile, read_calibration
from sts.floorplan_io import load_floorplan
from sts.roster_csv import read_roster
from sts.rules_toml import load_rules
from sts.timetable_toml import LoadedTimetable, load_timetable

#: The file names a campus folder is searched for (besides the floorplan).
CAMPUS_FILES = {
    "rules": "rules.toml",
    "roster": "roster.csv",
    "timetable": "timetable.toml",
    "calibration": "calibration.toml",
}


@dataclass(frozen=True, slots=True)
class SiteFiles:
    """Which files make up a site; None: not given (the engine runs without it)."""

    floorplan: Path
    rules: Path | None = None
    roster: Path | None = None
    timetable: Path | None = None  # default: the timetable the rules file names
    calibration: Path | None = None

    @classmethod
    def campus(cls, folder: Path) -> SiteFiles:
        """A campus folder: its floorplan and whichever of the conventional files exist."""
        found = {key: folder / name for key, name in CAMPUS_FILES.items()}
        return cls(
            floorplan=folder,
            **{key: path if path.is_file() else None for key, path in found.items()},
        )


def nominal_radio(files: SiteFiles) -> SiteFiles:
    """The site without its calibration: for readings drawn from the plan's nominal reader
    model (the scripted demo's radio), which is what the engine assumes uncalibrated."""
    return replace(files, calibration=None)


@dataclass(frozen=True, slots=True)
class Site:
    """A validated site: floorplan, roster, rules, timetable and calibration, as loaded."""

    files: SiteFiles
    floorplan: Floorplan
    warnings: tuple[Problem, ...]
    roster: Roster | None
    rules: RulesConfig | None
    timetable: LoadedTimetable | None
    calibration: CalibrationFile | None
    zone_hysteresis: tuple[KindHysteresis, ...] = ()  # the rules file's, per zone kind


def load_site(files: SiteFiles) -> Site:
    """Read and validate every file of a site; the first invalid file raises its error."""
    loaded = load_floorplan(files.floorplan)
    floorplan = loaded.floorplan
    roster = read_roster(files.roster) if files.roster is not None else None
    rules = None
    by_kind: tuple[KindHysteresis, ...] = ()
    timetable_path = files.timetable
    if files.rules is not None:
        loaded_rules = load_rules(files.rules, floorplan, roster)
        rules, by_kind = loaded_rules.config, loaded_rules.zone_hysteresis
        if timetable_path is None and loaded_rules.timetable is not None:
            timetable_path = Path(loaded_rules.timetable)
    timetable = (
        load_timetable(timetable_path, floorplan, roster) if timetable_path is not None else None
    )
    calibration = (
        read_calibration(files.calibration, floorplan) if files.calibration is not None else None
    )
    return Site(files, floorplan, loaded.warnings, roster, rules, timetable, calibration, by_kind)


def build_engine(
    site: Site,
    *,
    hysteresis: Hysteresis | None = None,
    locator: LocatorConfig | None = None,
) -> Engine:
    """The Engine for a site: consent from the roster (every tag without one), its rules,
    its calibration, and the rules file's per-kind hysteresis (unless `hysteresis` has its
    own).

    Without a roster every tag counts as consented: the development default of the
    batch commands, which say so; the server will refuse to start without one.
    """
    rule_set = None
    if site.rules is not None:
        rule_set = RuleSet(
            site.rules,
            site.floorplan,
            timetable=site.timetable.timetable if site.timetable is not None else None,
            tag_groups=site.roster.tag_groups() if site.roster is not None else None,
        )
    config = locator or LocatorConfig()
    readers = None
    if site.calibration is not None:
        readers = site.calibration.readers
        config = site.calibration.locator_config(config)
    zone_h = hysteresis or Hysteresis()
    if site.zone_hysteresis and not zone_h.by_kind:
        zone_h = replace(zone_h, by_kind=site.zone_hysteresis)
    return Engine(
        site.floorplan,
        roster=None if site.roster is None else site.roster.entries,
        rules=rule_set,
        hysteresis=zone_h,
        locator=config,
        calibration=readers,
    )
