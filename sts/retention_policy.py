"""The written retention policy (retention.toml in the site folder): required configuration.

For every kind of data in `store.retention.DATA_KINDS` the policy says why it is kept
(`purpose`), why it is needed for that (`need`) and when it is deleted (`keep`, a
duration such as 30d). `sts serve` refuses to start without the file or with any kind
missing, and names each missing piece; `sts retention run` and the server's periodic
job apply it; `sts privacy notice` quotes it. docs/privacy.md has a commented example.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geometry.errors import ConfigError
from store.retention import DATA_KINDS
from sts.toml_checks import Problems, check_keys, read_toml

POLICY_FILE = "retention.toml"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_KIND_KEYS = ("purpose", "need", "keep")


@dataclass(frozen=True, slots=True)
class KindPolicy:
    """Why one kind of data is kept and for how long."""

    purpose: str
    need: str
    keep: str  # as written (30d)
    keep_s: float


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """The whole policy: who is responsible, how often it runs, each kind's rule."""

    source: str
    controller: str
    contact: str
    run_every_s: float
    kinds: dict[str, KindPolicy]

    @property
    def keep_s(self) -> dict[str, float]:
        """kind -> seconds kept (what store.retention.run takes)."""
        return {k: p.keep_s for k, p in self.kinds.items()}


def parse_duration(text: Any) -> float | None:
    """90m, 12h, 30d as seconds; None when not a duration."""
    m = _DURATION.match(text) if isinstance(text, str) else None
    return None if m is None else float(m.group(1)) * _UNIT_S[m.group(2)]


def _text(probs: Problems, table: dict[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        probs.add(f"{where}.{key}", "missing or empty", f'write {key} = "..." in [{where}]')
        return ""
    return value.strip()


def _kind(probs: Problems, data: dict[str, Any], kind: str) -> KindPolicy | None:
    where = f"data.{kind}"
    table = data.get(kind)
    if not isinstance(table, dict):
        fix = f'add [{where}] with purpose = "...", need = "..." and keep = "30d"'
        probs.add(where, "missing: every kind of data needs a purpose, a need and a time", fix)
        return None
    check_keys(probs, where, table, set(_KIND_KEYS))
    purpose, need = _text(probs, table, "purpose", where), _text(probs, table, "need", where)
    keep_s = parse_duration(table.get("keep"))
    if keep_s is None:
        probs.add(
            f"{where}.keep",
            f"must be a duration, got {table.get('keep')!r}",
            'write keep = "30d" (s, m, h or d)',
        )
        return None
    return KindPolicy(purpose, need, str(table["keep"]), keep_s)


def parse_policy(doc: dict[str, Any], source: str) -> RetentionPolicy:
    """A validated policy; every missing or wrong piece at once as a ConfigError."""
    probs = Problems(source)
    check_keys(probs, source, doc, {"policy", "data"})
    head = doc.get("policy") if isinstance(doc.get("policy"), dict) else {}
    assert isinstance(head, dict)
    controller = _text(probs, head, "controller", "policy")
    contact = _text(probs, head, "contact", "policy")
    run_every = parse_duration(head.get("run_every", "1h"))
    if run_every is None or run_every <= 0:
        probs.add("policy.run_every", "must be a duration above 0", 'write run_every = "1h"')
    data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    assert isinstance(data, dict)
    check_keys(probs, "data", data, set(DATA_KINDS))
    kinds = {k: p for k in DATA_KINDS if (p := _kind(probs, data, k)) is not None}
    probs.raise_if_any("retention policy")
    return RetentionPolicy(source, controller, contact, run_every or 3600.0, kinds)


def load_policy(site: Path) -> RetentionPolicy:
    """The site's retention.toml, or a ConfigError saying it is required and what it holds."""
    path = site / POLICY_FILE
    if not path.is_file():
        raise ConfigError(
            f"{path}: no retention policy. The server keeps student data only under a written "
            f"policy: add {POLICY_FILE} with [policy] controller and contact, and for each of "
            f"{', '.join(DATA_KINDS)} a [data.KIND] with purpose, need and keep "
            "(docs/privacy.md has an example)"
        )
    return parse_policy(read_toml(path, "retention policy"), str(path))
