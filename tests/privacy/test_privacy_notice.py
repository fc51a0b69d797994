"""`sts privacy notice` says what the configuration in force says, and follows its changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from store.retention import DATA_KINDS
from sts.cli import main
from sts.retention_policy import load_policy
from sts.site import SiteFiles, load_site

NORTHFIELD = Path(__file__).resolve().parents[2] / "floorplans" / "northfield"


def notice(site: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    assert main(["privacy", "notice", "--site", str(site), *extra]) == 0
    return capsys.readouterr().out


def test_the_notice_matches_the_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    text = notice(NORTHFIELD, capsys)
    policy = load_policy(NORTHFIELD)
    assert policy.contact in text and policy.controller in text
    for kind in DATA_KINDS:
        assert f"({kind}): {policy.kinds[kind].purpose}." in text
    assert "Deleted after: 30 days." in text and "Deleted after: 1 hour." in text
    rules = load_site(SiteFiles.campus(NORTHFIELD)).rules
    assert rules is not None
    for rule in rules.rules:
        assert f"- {rule.id}:" in text
    for role in ("teachers: only the students of their own groups", "auditors"):
        assert role in text
    assert "at most 1 day" in text  # the feed's default replay horizon


def test_the_notice_follows_a_changed_policy_and_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    shutil.copytree(NORTHFIELD, site, ignore=shutil.ignore_patterns("scenarios"))
    policy = (site / "retention.toml").read_text().replace('keep = "30d"', 'keep = "7d"')
    (site / "retention.toml").write_text(policy)
    (site / "rules.toml").unlink()
    config = tmp_path / "sts.toml"
    config.write_text("[feed]\nhorizon_s = 7200.0\n")
    text = notice(site, capsys, "--config", str(config))
    assert "Deleted after: 7 days." in text and "Deleted after: 30 days" not in text
    assert "at most 2 hours" in text
    assert "raises no alerts" in text
