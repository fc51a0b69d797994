"""What a source of readings hands on, in time order: reading batches and commands.

The simulator yields these; a recording stores them and gives them back unchanged;
the hub (sts/feed_driver.py) turns them into Engine calls. A live server's ingest
can produce the same two kinds, so every shell can feed and record the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from engine.batches import ReadingBatch


@dataclass(frozen=True, slots=True)
class Readings:
    """The readings heard in [t0, t1), time-ordered; `tag` codes index `tag_ids`."""

    t0: float
    t1: float
    batch: ReadingBatch
    tag_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Command:
    """A command to the engine at time t (one of sts.hub.COMMANDS), with keyword arguments."""

    t: float
    name: str
    args: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


FeedItem = Readings | Command
