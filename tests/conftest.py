"""Suite-wide settings: hypothesis profiles (CI runs derandomised, so a red run repeats)."""

from __future__ import annotations

import os
import shutil
import tempfile

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


_OWN_DATA: list[str] = []


def pytest_configure(config: object) -> None:
    """Commands run without `--data` keep their data (and make their key) in a folder of
    the run's own, not in ./var of the checkout (STS_DATA is the default of `--data`)."""
    if "STS_DATA" not in os.environ:
        _OWN_DATA.append(tempfile.mkdtemp(prefix="sts-test-data-"))
        os.environ["STS_DATA"] = _OWN_DATA[0]


def pytest_unconfigure(config: object) -> None:
    """Remove the run's own data folder."""
    for folder in _OWN_DATA:
        shutil.rmtree(folder, ignore_errors=True)
