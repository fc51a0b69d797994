"""The site loader: a campus folder or named files -> a validated Site -> a configured Engine."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from engine.windowing import Statistic, WindowSpec
from engine.zone_state import Hysteresis
from geometry.errors import ConfigError
from sts.site import SiteFiles, build_engine, load_site

NORTHFIELD = Path(__file__).resolve().parents[2] / "floorplans" / "northfield"


def test_a_campus_folder_finds_its_conventional_files() -> None:
    files = SiteFiles.campus(NORTHFIELD)
    assert files.rules == NORTHFIELD / "rules.toml"
    assert files.roster == NORTHFIELD / "roster.csv"
    assert files.timetable == NORTHFIELD / "timetable.toml"
    assert files.calibration == NORTHFIELD / "calibration.toml"  # from its site survey
    site = load_site(files)
    engine = build_engine(site)
    assert engine.rules is not None and not engine.open_consent
    assert site.calibration is not None and len(site.calibration.readers) == 162
    # the rules file's per-kind hysteresis reaches the engine, unless one is given
    assert [set(k.kinds) for k in engine.hysteresis.by_kind] == [{"restricted"}, {"staff_only"}]
    assert build_engine(site, hysteresis=Hysteresis(dwell_s=1.0)).hysteresis.by_kind
    consented = {e.tag for e in site.roster.entries if e.consent} if site.roster else set()
    assert set(engine.tag_ids) == consented


def test_rules_name_their_timetable_when_none_is_given(tmp_path: Path) -> None:
    site = load_site(
        SiteFiles(NORTHFIELD, rules=NORTHFIELD / "rules.toml", roster=NORTHFIELD / "roster.csv")
    )
    assert site.timetable is not None and site.timetable.timetable.periods


def test_without_a_roster_every_tag_counts_as_consented() -> None:
    engine = build_engine(load_site(SiteFiles(NORTHFIELD)))
    assert engine.open_consent and engine.rules is None


def test_a_bad_file_in_the_campus_names_itself(tmp_path: Path) -> None:
    campus = tmp_path / "campus"
    shutil.copytree(NORTHFIELD, campus)
    (campus / "rules.toml").write_text('version = 1\n[[rules]]\nid = "x"\ntype = "teleport"\n')
    with pytest.raises(ConfigError, match=r"(?s)rules\.toml.*teleport"):
        load_site(SiteFiles.campus(campus))


def test_the_window_statistic_a_survey_chose_reaches_every_shells_engine(tmp_path: Path) -> None:
    campus = tmp_path / "campus"
    shutil.copytree(NORTHFIELD, campus)
    assert build_engine(load_site(SiteFiles.campus(campus))).locator.config.window == WindowSpec()
    cal = campus / "calibration.toml"
    text = cal.read_text().replace(
        "[calibration.global]", 'window_statistic = "mean"\n\n[calibration.global]', 1
    )
    cal.write_text(text)
    window = build_engine(load_site(SiteFiles.campus(campus))).locator.config.window
    assert window == replace(WindowSpec(), statistic=Statistic.MEAN)
