"""Fixtures of the server tests: the scripted boiler-room scenario, built once."""

from __future__ import annotations

import pytest

from sts.site import SiteFiles, load_site
from tests.serve.live import NORTHFIELD
from tests.serve.scenario import Scenario, boiler_room

#: Consented Year 7 badges that walk into the boiler room, in order.
INTRUDERS = ("badge-0001", "badge-0002", "badge-0003", "badge-0004")


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    """Four students enter the boiler room 20 s apart (data time)."""
    site = load_site(SiteFiles.campus(NORTHFIELD))
    return boiler_room(site.floorplan, INTRUDERS)
