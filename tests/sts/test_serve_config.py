"""sts.toml: defaults, and every problem reported at once with its key and fix."""

from __future__ import annotations

import pytest

from geometry.errors import ConfigError
from sts.serve_config import ServeConfig, parse_config


def test_an_empty_file_is_the_embedded_defaults() -> None:
    assert parse_config({}, "sts.toml") == ServeConfig()


def test_values_are_read() -> None:
    config = parse_config(
        {
            "feed": {"origins": ["https://school.example"], "max_queue": 50},
            "mqtt": {"enabled": True},
        },
        "sts.toml",
    )
    assert config.feed.origins == ["https://school.example"]
    assert config.feed.max_queue == 50 and config.mqtt.enabled


def test_every_problem_is_named_with_its_fix() -> None:
    data = {
        "feed": {"heartbeat_s": "soon", "colour": 1},
        "mqtt": {"qos": 3},
        "tls": {"cert": "a.pem"},
        "extra": {},
    }
    with pytest.raises(ConfigError) as err:
        parse_config(data, "site/sts.toml")
    text = str(err.value)
    assert text.startswith("site/sts.toml: 5 problem(s)")
    for key in (
        "feed.heartbeat_s",
        "feed.colour",
        "mqtt.qos",
        "tls",
        "sts.toml.extra",
    ):
        assert key in text
    assert "Fix:" in text
