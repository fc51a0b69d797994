"""The server reads the consent registry only when it may have changed: written by
another process, or a grant's start or expiry passed; each such change still acts."""

from __future__ import annotations

from pathlib import Path

import pytest

from store import consent
from store.db import open_store, transaction
from sts.hub import Hub
from sts.server.consent_watch import ConsentWatch
from sts.site import SiteFiles, build_engine, load_site
from tests.serve.live import NORTHFIELD


@pytest.fixture
def watched(tmp_path: Path) -> tuple[ConsentWatch, Hub]:
    site = load_site(SiteFiles.campus(NORTHFIELD))
    assert site.roster is not None
    hub = Hub(build_engine(site), [])
    watch = ConsentWatch(open_store(tmp_path), hub, lambda: 1.0e9)
    watch.start(site.roster, 1000.0)
    return watch, hub


def test_another_process_writing_the_registry_is_seen_at_the_next_poll(
    tmp_path: Path, watched: tuple[ConsentWatch, Hub]
) -> None:
    watch, hub = watched
    assert watch.poll(1001.0) == 0
    other = open_store(tmp_path)  # as `sts consent withdraw` would
    with transaction(other):
        for scope in consent.SCOPES:  # one scope left would keep the badge (attendance)
            consent.withdraw(other, "NF-1001", scope, 1001.5)
    assert watch.poll(1002.0) == 1
    assert hub.engine.gate.student("badge-0001") is None


def test_an_unchanged_registry_is_not_read_but_an_expiry_still_acts(
    tmp_path: Path, watched: tuple[ConsentWatch, Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    watch, hub = watched
    other = open_store(tmp_path)
    with transaction(other):
        consent.grant(
            other,
            student_id="NF-X",
            tag="badge-new",
            scope="safety",
            granted_at=0.0,
            expires_at=1010.0,
        )
    assert watch.poll(1001.0) == 1 and hub.engine.gate.student("badge-new") is not None
    reads: list[float] = []
    real = consent.active_tags
    monkeypatch.setattr(
        consent,
        "active_tags",
        lambda c, now, *scope: reads.append(now) or real(c, now, *scope),
    )
    assert watch.poll(1002.0) == 0 and watch.poll(1009.0) == 0
    assert reads == []  # nothing written, nothing due: the registry was not read
    assert watch.poll(1010.0) == 1  # the grant expired: no write, yet the gate follows
    assert hub.engine.gate.student("badge-new") is None and set(reads) == {1010.0}
