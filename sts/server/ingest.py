"""The ingest desk: gateway frames -> engine codes, every rejected row counted, a tick's batch.

Rows are checked one by one, so one bad row never costs the frame its good ones:
an unknown reader, an RSSI outside -127..0 dBm, a time that is not finite, a tag with
no active consent (never stored, never logged) are each counted per gateway and reader
and dropped. The rows kept are journaled (ingest_journal) in columns before the gateway
is acknowledged; `take()` hands the tick everything that arrived, sorted by time, with
the rows now older than the engine's clock counted as late.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.batches import ReadingBatch
from transports.ingest_codec import Coded, DecodedFrame, encode_coded_columns

if TYPE_CHECKING:
    from engine.consent import ConsentGate

RSSI_MIN, RSSI_MAX = -127.0, 0.0

#: Reasons a row is rejected, as counted (the metric's `reason` label).
REJECT_REASONS = ("unknown_reader", "rssi_range", "bad_time", "no_consent", "late")
#: Distinct (gateway, reader, reason) counters kept before new readers count as `(other)`.
MAX_KEYS = 10_000


@dataclass(slots=True)
class Accepted:
    """What the desk made of one frame: rows kept (journal form) and rejections."""

    kept: int
    rejected: Counter[tuple[str, str, str]]  # (gateway, reader, reason) -> rows
    journal: bytes  # the kept rows as a columns frame (no tag without consent)


@dataclass(slots=True)
class _Pending:
    gateway: str
    journal_id: int
    t: npt.NDArray[np.float64]
    tag: npt.NDArray[np.int32]
    reader: npt.NDArray[np.int32]
    rssi: npt.NDArray[np.float32]


@dataclass(slots=True)
class TickInput:
    """One tick's readings, time-sorted, and the last journal frame they include."""

    batch: ReadingBatch
    tag_ids: tuple[str, ...]
    journal_id: int
    arrived_at: float  # wall time the oldest frame in it arrived (latency metric)


@dataclass
class IngestDesk:
    """Maps gateway ids to engine codes and counts rejections (see the module docstring)."""

    reader_ids: tuple[str, ...]
    gate: ConsentGate
    on_reject: Callable[[str, str, str, int], None] | None = None  # (gateway, reader, why, n)
    rejected: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    _readers: dict[str, int] = field(default_factory=dict)
    _tags: dict[str, int] = field(default_factory=dict)
    _tag_ids: list[str] = field(default_factory=list)
    _pending: list[_Pending] = field(default_factory=list)
    _first_arrival: float | None = None

    def __post_init__(self) -> None:
        self._readers = {r: i for i, r in enumerate(self.reader_ids)}

    def _tag_code(self, tag: str) -> int:
        code = self._tags.get(tag)
        if code is None:
            code = self._tags[tag] = len(self._tag_ids)
            self._tag_ids.append(tag)
        return code

    def _count(
        self, gateway: str, names: tuple[str, ...], codes: npt.NDArray[np.int32], why: str
    ) -> None:
        """Count rejected rows per reader (`codes` index `names`)."""
        if not len(codes):
            return
        values, counts = np.unique(codes, return_counts=True)
        for code, n in zip(values.tolist(), counts.tolist(), strict=True):
            name = names[code]
            key = (gateway, name, why)
            if key not in self.rejected and len(self.rejected) >= MAX_KEYS:
                key = (gateway, "(other)", why)  # bound the table against id sprays
            self.rejected[key] += n
            if self.on_reject is not None:
                self.on_reject(*key, n)

    def accept(self, gateway: str, frame: DecodedFrame) -> tuple[Accepted, _Pending]:
        """Check a decoded frame row by row; what is kept, what is rejected and why."""
        before = self.rejected.copy()
        reader_lut = np.array([self._readers.get(r, -1) for r in frame.reader_ids], np.int32)
        reader = reader_lut[frame.reader] if len(frame) else np.empty(0, np.int32)
        unknown = reader < 0
        self._count(gateway, frame.reader_ids, frame.reader[unknown], "unknown_reader")
        bad_time = ~unknown & ~np.isfinite(frame.t)
        self._count(gateway, self.reader_ids, reader[bad_time], "bad_time")
        rssi = frame.rssi
        bad_rssi = ~unknown & ~bad_time & ~((rssi >= RSSI_MIN) & (rssi <= RSSI_MAX))
        self._count(gateway, self.reader_ids, reader[bad_rssi], "rssi_range")
        consented = np.array([self.gate.student(t) is not None for t in frame.tag_ids], bool)
        no_consent = ~unknown & ~bad_time & ~bad_rssi & ~consented[frame.tag]
        self._count(gateway, self.reader_ids, reader[no_consent], "no_consent")
        keep = ~(unknown | bad_time | bad_rssi | no_consent)
        tag_lut = np.array(
            [
                self._tag_code(t) if ok else -1
                for t, ok in zip(frame.tag_ids, consented, strict=True)
            ],
            np.int32,
        )
        t, tag, rdr, rs = frame.t[keep], tag_lut[frame.tag[keep]], reader[keep], rssi[keep]
        self.accepted[gateway] += int(keep.sum())
        # The journal's tables name only the rows kept: no tag without consent is stored.
        journal = encode_coded_columns(
            frame.frame_id,
            t,
            Coded(frame.tag[keep], frame.tag_ids).only_used(),
            Coded(rdr, self.reader_ids).only_used(),
            rs,
        )
        pending = _Pending(gateway, 0, t, tag, rdr, rs)
        return Accepted(int(keep.sum()), self.rejected - before, journal), pending

    def queue(self, pending: _Pending, journal_id: int, now: float) -> None:
        """Hold a journaled frame's rows for the next tick."""
        pending.journal_id = journal_id
        if len(pending.t):
            self._pending.append(pending)
            if self._first_arrival is None:
                self._first_arrival = now

    def take(self, floor_t: float) -> TickInput | None:
        """Everything queued, time-sorted; rows older than `floor_t` are counted late."""
        if not self._pending:
            return None
        parts, self._pending = self._pending, []
        arrived, self._first_arrival = self._first_arrival, None
        t = np.concatenate([p.t for p in parts])
        gateway = np.repeat(np.arange(len(parts)), [len(p.t) for p in parts])
        reader = np.concatenate([p.reader for p in parts])
        late = t < floor_t
        for g in np.unique(gateway[late]).tolist():
            in_part = late & (gateway == g)
            self._count(parts[g].gateway, self.reader_ids, reader[in_part], "late")
        order = np.argsort(t, kind="stable")
        order = order[~late[order]]
        batch = ReadingBatch.from_arrays(
            t[order],
            np.concatenate([p.tag for p in parts])[order],
            reader[order],
            np.concatenate([p.rssi for p in parts])[order],
        )
        journal_id = max(p.journal_id for p in parts)
        return TickInput(batch, tuple(self._tag_ids), journal_id, arrived or 0.0)
