"""The folder `sts simulate` writes and `sts replay`, `evaluate` and `drill --replay` read.

    DIR/recording/      the feed: a header, then readings and commands (transports/recording.py)
    DIR/truth/          ground truth: every segment each person walked or stood
    DIR/roster.csv      the simulated population as a roster (tags, groups, consent; no names)
    DIR/people.csv      what the simulation did to each badge (absent, late, dead, locker)
    DIR/breaches.jsonl  the rule breaches that really happened (simulator/truth.py)
    DIR/scenario.json   the scenario as run (overrides applied)

A recording made from anything else (a live server's ingest) has the same records:
`header`, `tags` (the tag table grows), `readings` (columns as bytes) and `command`.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.batches import ReadingBatch
from geometry.errors import InputError
from simulator.feed import Command, FeedItem, Readings
from simulator.population import Person
from simulator.truth import SEGMENT_FIELDS, Breach, Segments
from transports.recording import RecordingReader, RecordingWriter, pack_array, unpack_array

FORMAT = "sts-recording"
VERSION = 1
_READING_COLUMNS = (
    ("t", np.float64),
    ("tag", np.int32),
    ("reader", np.int32),
    ("rssi", np.float32),
)
_SEGMENT_TYPES = dict.fromkeys(SEGMENT_FIELDS, np.float64) | {
    "tag": np.int32,
    "level": np.int32,
    "zone": np.int32,
}


def readings_record(item: Readings) -> dict[str, Any]:
    """A readings item as a record (columns as little-endian bytes)."""
    record: dict[str, Any] = {"k": "readings", "t0": item.t0, "t1": item.t1}
    for name, _ in _READING_COLUMNS:
        record[name] = pack_array(getattr(item.batch, name))
    return record


def command_record(item: Command) -> dict[str, Any]:
    """A command item as a record."""
    return {"k": "command", "t": item.t, "name": item.name, "args": dict(item.args)}


class FeedWriter:
    """Writes a header, then feed items, to a recording folder."""

    def __init__(self, folder: Path, header: dict[str, Any]) -> None:
        self.log = RecordingWriter(folder)
        self.log.append({"k": "header", "format": FORMAT, "version": VERSION, **header})
        self._tags: tuple[str, ...] = ()

    def write(self, item: FeedItem) -> None:
        """Append one item (and the new tags it names first)."""
        if isinstance(item, Command):
            self.log.append(command_record(item), item.t)
            return
        if item.tag_ids[: len(self._tags)] != self._tags:
            raise InputError(
                "recording: a source's tag table may only grow; keep the codes it gave"
            )
        if len(item.tag_ids) > len(self._tags):
            self.log.append({"k": "tags", "tags": list(item.tag_ids[len(self._tags) :])})
            self._tags = item.tag_ids
        self.log.append(readings_record(item), item.t0)

    def close(self) -> None:
        """Finish the recording."""
        self.log.close()


class FeedReader:
    """The header and the feed items of a recording, damage reported, nothing intact lost."""

    def __init__(self, folder: Path) -> None:
        self.reader = RecordingReader(folder)
        first = next(self.reader.records(), None)
        if first is None or first.get("k") != "header" or first.get("format") != FORMAT:
            raise InputError(
                f"{folder}: the first record is not an {FORMAT} header; is this a recording folder?"
            )
        if first.get("version") != VERSION:
            raise InputError(
                f"{folder}: recording version {first.get('version')!r}; "
                f"this sts reads version {VERSION}"
            )
        self.header: dict[str, Any] = first

    @property
    def damage(self) -> list[Any]:
        """What the last pass over the records skipped."""
        return self.reader.damage

    def items(self) -> Iterator[FeedItem]:
        """Readings and commands in recorded order."""
        tags: tuple[str, ...] = ()
        for record in self.reader.records():
            kind = record.get("k")
            if kind == "tags":
                tags = tags + tuple(record["tags"])
            elif kind == "readings":
                columns = {
                    name: unpack_array(record[name], dtype) for name, dtype in _READING_COLUMNS
                }
                yield Readings(record["t0"], record["t1"], ReadingBatch(**columns), tags)
            elif kind == "command":
                yield Command(record["t"], record["name"], record.get("args", {}))


class TruthWriter:
    """Ground-truth segments, appended tick by tick."""

    def __init__(self, folder: Path) -> None:
        self.log = RecordingWriter(folder)

    def write(self, segments: Segments) -> None:
        """Append a batch of segments (nothing for an empty one)."""
        if len(segments):
            record = {"k": "segments"} | {
                f: pack_array(getattr(segments, f)) for f in SEGMENT_FIELDS
            }
            self.log.append(record, float(segments.t0.min()))

    def close(self) -> None:
        """Finish the truth log."""
        self.log.close()


def read_truth(folder: Path) -> Segments:
    """Every segment of a truth log."""
    parts = [
        Segments(*(unpack_array(r[f], _SEGMENT_TYPES[f]) for f in SEGMENT_FIELDS))
        for r in RecordingReader(folder).records()
        if r.get("k") == "segments"
    ]
    return Segments.concat(parts)


def write_people(path: Path, people: Sequence[Person]) -> None:
    """people.csv: what the simulation did to each badge."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["tag", "group", "consent", "absent", "late_s", "badge", "speed_mps"])
        for p in people:
            w.writerow(
                [
                    p.tag,
                    p.group,
                    int(p.consent),
                    int(p.absent),
                    f"{p.late_s:.0f}",
                    p.badge.value,
                    f"{p.speed_mps:.3f}",
                ]
            )


def read_people(path: Path) -> list[dict[str, str]]:
    """people.csv rows as dicts."""
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_breaches(path: Path, breaches: Sequence[Breach]) -> None:
    """breaches.jsonl: one true breach per line."""
    with path.open("w", encoding="utf-8") as f:
        for b in breaches:
            f.write(json.dumps(dataclasses.asdict(b), sort_keys=True) + "\n")


def read_breaches(path: Path) -> list[Breach]:
    """The true breaches written by `write_breaches`."""
    with path.open(encoding="utf-8") as f:
        return [Breach(**json.loads(line)) for line in f if line.strip()]
