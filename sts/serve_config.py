"""`sts serve` configuration: sts.toml validated once, with embedded defaults.

Every key has a default (the dataclasses below), so no file is needed on loopback. A
file sets any subset; every problem (unknown section or key, wrong type, out of range)
is reported at once with the file, the key and the fix. docs/cli.md lists the keys and
docs/sts.example.toml is a commented copy of the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from sts.toml_checks import Problems, check_keys, read_toml
from sts.webhook_config import WebhookTarget, parse_webhooks


@dataclass(frozen=True, slots=True)
class FeedLimits:
    """The subscriber feed: heartbeats, queues, the resume horizon, sign-in."""

    origins: list[str] = field(default_factory=list)  # allowed browser Origins ([]: same host)
    heartbeat_s: float = 10.0  # the server sends a heartbeat when idle this long
    client_timeout_s: float = 60.0  # nothing heard from a client this long: closed
    max_queue: int = 10_000  # durable messages waiting for one client before it is closed
    slow_after_s: float = 10.0  # a client whose socket stays full this long is closed
    send_buffer_bytes: int = 262_144  # kernel send buffer per client socket
    max_message_bytes: int = 65_536  # largest message a subscriber may send
    horizon_s: float = 86_400.0  # how long durable messages are kept for resume
    horizon_messages: int = 1_000_000  # and at most this many
    ticket_ttl_s: float = 30.0  # a sign-in ticket is valid this long, once
    max_failures: int = 5  # failed sign-ins per address within failure_window_s
    failure_window_s: float = 60.0
    revocation_poll_s: float = 1.0  # how often tokens are checked for revocation
    feedback_per_hour: int = 10  # feedback messages one token may send from the dashboard


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """Reader ingest over WebSocket and MQTT."""

    max_frame_bytes: int = 4_194_304  # largest gateway frame
    max_rows: int = 200_000  # readings per frame
    idle_s: float = 2.0  # no readings this long: time moves on by the wall clock
    batch_s: float = 0.0  # a frame waits this long for others before the engine (0: none)
    journal_keep_s: float = 3600.0  # processed frames kept this long to spot resends


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """An MQTT broker the server subscribes to (mosquitto): topic layout and QoS."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 1883
    topic: str = "sts/+/readings"  # the `+` level is the gateway id
    gateway_level: int = 1  # which topic level (0-based) names the gateway
    qos: int = 1
    client_id: str = "sts-serve"


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """Certificate and key (PEM) for wss/https; both empty: plain ws/http."""

    cert: str = ""
    key: str = ""


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """The whole configuration of `sts serve`."""

    feed: FeedLimits = field(default_factory=FeedLimits)
    ingest: IngestLimits = field(default_factory=IngestLimits)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    tls: TlsConfig = field(default_factory=TlsConfig)
    webhooks: tuple[WebhookTarget, ...] = ()


def _value(probs: Problems, key: str, default: Any, value: Any) -> Any:
    """`value` if it has the type of `default` (and is in range), else a problem."""
    name = key.rsplit(".", 1)[-1]
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        probs.add(key, f"must be true or false, got {value!r}", f"write {name} = true")
    elif isinstance(default, int | float):
        number_ok = isinstance(value, int | float) and not isinstance(value, bool)
        if isinstance(default, int) and not isinstance(value, int):
            number_ok = False
        if number_ok and value >= 0:
            return type(default)(value)
        probs.add(key, f"must be a number >= 0, got {value!r}", f"write {name} = {default}")
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
        probs.add(key, f"must be a string, got {value!r}", f'write {name} = "..."')
    elif isinstance(default, list):
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        probs.add(key, f"must be a list of strings, got {value!r}", f'write {name} = ["..."]')
    return default


def _section(probs: Problems, where: str, table: Any, base: Any) -> Any:
    if not isinstance(table, dict):
        probs.add(where, "must be a table", f"write [{where}] and its keys below it")
        return base
    allowed = {f.name for f in fields(base)}
    check_keys(probs, where, table, allowed)
    changes = {
        k: _value(probs, f"{where}.{k}", getattr(base, k), v)
        for k, v in table.items()
        if k in allowed
    }
    return replace(base, **changes)


def parse_config(data: dict[str, Any], source: str) -> ServeConfig:
    """A ServeConfig from parsed TOML (every problem at once, as a ConfigError)."""
    probs = Problems(source)
    base = ServeConfig()
    sections = {"feed": base.feed, "ingest": base.ingest, "mqtt": base.mqtt, "tls": base.tls}
    check_keys(probs, "sts.toml", data, set(sections) | {"webhooks"})
    parsed: dict[str, Any] = {
        k: _section(probs, k, data[k], v) for k, v in sections.items() if k in data
    }
    if "webhooks" in data:
        parsed["webhooks"] = parse_webhooks(probs, data["webhooks"])
    config = replace(base, **parsed)
    if bool(config.tls.cert) != bool(config.tls.key):
        probs.add("tls", "cert and key go together", "give both tls.cert and tls.key, or neither")
    if not 0 <= config.mqtt.qos <= 2:
        probs.add("mqtt.qos", "must be 0, 1 or 2", "write qos = 1")
    probs.raise_if_any("server configuration")
    return config


def load_config(path: Path | None) -> ServeConfig:
    """The configuration from a file, or the embedded defaults when `path` is None."""
    if path is None:
        return ServeConfig()
    return parse_config(read_toml(path), str(path))
