"""The `[webhooks.NAME]` tables of sts.toml: where integrators want the feed pushed.

[webhooks.district]
url = "https://district.example/sts-hook"
secret = "a long random string shared with the receiver"
types = ["alert"]          # any of alert, event, record
coordinates = false        # x, y of evidence only when true
max_attempts = 6           # then a dead letter
backoff_s = 1.0            # first retry after this, doubling each time
backoff_max_s = 300.0      # longest wait between two attempts
timeout_s = 5.0            # one attempt's HTTP timeout
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlsplit

from sts.toml_checks import Problems, check_keys

WEBHOOK_TYPES = ("alert", "event", "record")
MIN_SECRET_CHARS = 16


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """One receiver of signed pushes."""

    name: str
    url: str
    secret: str
    types: tuple[str, ...] = ("alert",)
    coordinates: bool = False
    max_attempts: int = 6
    backoff_s: float = 1.0
    backoff_max_s: float = 300.0
    timeout_s: float = 5.0

    def delay_after(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based): doubling, capped."""
        return float(min(self.backoff_s * 2 ** (attempt - 1), self.backoff_max_s))


def _same_type(default: Any, value: Any) -> bool:
    """Whether a TOML value fits a default's type (numbers: not negative)."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and value >= 0
    if isinstance(default, float):
        return isinstance(value, int | float) and value >= 0
    return isinstance(value, str)


def _checked(probs: Problems, where: str, name: str, table: dict[str, Any]) -> WebhookTarget:
    base = WebhookTarget(name, "", "")
    changes: dict[str, Any] = {}
    for f in fields(base):
        if f.name == "name" or f.name not in table:
            continue
        default, value = getattr(base, f.name), table[f.name]
        key = f"{where}.{f.name}"
        if isinstance(default, tuple):
            if not isinstance(value, list) or not set(value) <= set(WEBHOOK_TYPES) or not value:
                probs.add(
                    key,
                    f"must list some of {WEBHOOK_TYPES}, got {value!r}",
                    'write types = ["alert"]',
                )
                continue
            value = tuple(value)
        elif not _same_type(default, value):
            probs.add(key, f"must be like {default!r}, got {value!r}", f"write {f.name} = ...")
            continue
        changes[f.name] = float(value) if isinstance(default, float) else value
    target = replace(base, **changes)
    if urlsplit(target.url).scheme not in ("http", "https") or not urlsplit(target.url).netloc:
        probs.add(
            f"{where}.url",
            f"must be an http(s) URL, got {target.url!r}",
            'write url = "https://host/path"',
        )
    if len(target.secret) < MIN_SECRET_CHARS:
        probs.add(
            f"{where}.secret",
            f"must be at least {MIN_SECRET_CHARS} characters",
            "write a long random secret shared with the receiver",
        )
    if target.max_attempts < 1:
        probs.add(f"{where}.max_attempts", "must be at least 1", "write max_attempts = 6")
    return target


def parse_webhooks(probs: Problems, table: Any) -> tuple[WebhookTarget, ...]:
    """Every `[webhooks.NAME]` table, each problem added to `probs`."""
    if not isinstance(table, dict):
        probs.add("webhooks", "must be a table of tables", "write [webhooks.NAME] sections")
        return ()
    targets = []
    allowed = {f.name for f in fields(WebhookTarget)} - {"name"}
    for name, sub in table.items():
        where = f"webhooks.{name}"
        if not isinstance(sub, dict):
            probs.add(where, "must be a table", f"write [{where}] and its keys below it")
            continue
        check_keys(probs, where, sub, allowed)
        targets.append(_checked(probs, where, name, sub))
    return tuple(targets)
