"""Fixtures of the privacy tests: the server tests' boiler-room scenario, and the small
school of the `sts attendance` tests."""

from tests.serve.conftest import scenario
from tests.sts.test_cmd_attendance import school

__all__ = ["scenario", "school"]
