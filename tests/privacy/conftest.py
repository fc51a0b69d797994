"""Fixtures of the privacy tests: the server tests' boiler-room scenario."""

from tests.serve.conftest import scenario

__all__ = ["scenario"]
