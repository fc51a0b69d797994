"""The consent gate: external tag ids become dense student indexes only with active consent.

Everything after the gate works on student indexes. A row whose tag has no active
consent is dropped here and only counted: its tag id is not stored, not put into an
error message, not returned (the gate keeps the number of such rows and nothing else).
Batches are mapped with one lookup array per tag table (`tag_ids`, the names behind a
batch's int codes), so admitting a batch is a gather and a mask, no Python per row.

Withdrawing consent retires the student's index at once: later rows of that tag are
dropped, and the caller (the Engine) forgets that index's state. Granting consent again
gives a new index, so nothing from before the withdrawal can be joined to it.

Open mode (`ConsentGate.open()`): every tag counts as consented and gets an index on
first sight -- the explicit development default of `sts track` without a roster.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from engine.batches import PositionBatch, ReadingBatch
from engine.roster import Consent, RosterEntry
from geometry.errors import InputError


class ConsentGate:
    """Maps tag codes of incoming batches to student indexes; drops and counts the rest."""

    def __init__(
        self, roster: Iterable[RosterEntry | Consent] = (), *, open_mode: bool = False
    ) -> None:
        self.open_mode = open_mode
        self.tags: list[str] = []  # student index -> tag ("" once consent is withdrawn)
        self._index: dict[str, int] = {}  # tag -> active student index
        self.dropped = 0  # rows dropped for lack of consent, ever
        self._version = 0
        self._cache: tuple[Sequence[str], int, npt.NDArray[np.int32]] | None = None
        # Per-student masks, kept until the next grant or withdrawal: a live engine asks
        # for them ten times a second, and building one walks every badge.
        self._active: tuple[int, npt.NDArray[np.bool_]] | None = None
        self._masks: tuple[int, frozenset[str], npt.NDArray[np.bool_]] | None = None
        self._refused: set[str] = set()  # open mode only: tags withdrawn, never re-admitted
        for row in roster:
            if row.consent:
                self.grant(row.tag)

    @classmethod
    def open(cls) -> ConsentGate:
        """A gate that admits every tag (development only: `sts serve` never uses it)."""
        return cls(open_mode=True)

    def __len__(self) -> int:
        """Student indexes given out so far (retired ones included)."""
        return len(self.tags)

    @property
    def active(self) -> npt.NDArray[np.bool_]:
        """Per student index: consent active (read-only)."""
        if self._active is None or self._active[0] != self._version:
            out = np.zeros(len(self.tags), bool)
            out[list(self._index.values())] = True
            out.flags.writeable = False
            self._active = (self._version, out)
        return self._active[1]

    def students_of(self, tags: frozenset[str]) -> npt.NDArray[np.bool_]:
        """Per student index: whether its tag is one of `tags` and active (read-only)."""
        cached = self._masks
        if cached is None or cached[0] != self._version or cached[1] != tags:
            out = np.zeros(len(self.tags), bool)
            out[[s for t in tags if (s := self._index.get(t)) is not None]] = True
            out.flags.writeable = False
            self._masks = cached = (self._version, tags, out)
        return cached[2]

    def student(self, tag: str) -> int | None:
        """The active index of a tag, or None."""
        return self._index.get(tag)

    def grant(self, tag: str) -> int:
        """Consent given: the tag gets a (new) student index; returns it."""
        if not tag:
            raise InputError("consent: a tag id must not be empty")
        have = self._index.get(tag)
        if have is not None:
            return have
        self._refused.discard(tag)
        self._index[tag] = len(self.tags)
        self.tags.append(tag)
        self._version += 1
        return self._index[tag]

    def withdraw(self, tag: str) -> int | None:
        """Consent withdrawn: the tag's index is retired at once; returns it (None if none)."""
        s = self._index.pop(tag, None)
        if s is not None:
            self.tags[s] = ""
        if self.open_mode:
            # in open mode an unknown tag would come straight back: refuse it from now on
            self._refused.add(tag)
        self._version += 1
        return s

    def lookup(self, tag_ids: Sequence[str]) -> npt.NDArray[np.int32]:
        """code -> student index (-1: no consent) for a batch's tag table; cached."""
        c = self._cache
        if c is not None and c[1] == self._version and (c[0] is tag_ids or c[0] == tag_ids):
            return c[2]
        if self.open_mode:
            for tag in tag_ids:
                if tag and tag not in self._index and tag not in self._refused:
                    self.grant(tag)
        lut = np.fromiter(
            (self._index.get(t, -1) for t in tag_ids), dtype=np.int32, count=len(tag_ids)
        )
        self._cache = (tag_ids, self._version, lut)
        return lut

    def _map(self, tag: npt.NDArray[np.int32], tag_ids: Sequence[str]) -> npt.NDArray[np.int32]:
        """Student index per row (-1 dropped); codes outside the table are an error."""
        self.check(tag, tag_ids)
        return self.lookup(tag_ids)[tag] if len(tag) else np.zeros(0, np.int32)

    def check(self, tag: npt.NDArray[np.int32], tag_ids: Sequence[str]) -> None:
        """Raise InputError when the codes do not fit the table (nothing is changed)."""
        n = len(tag_ids)
        if len(tag) and (int(tag.min()) < 0 or int(tag.max()) >= n):
            raise InputError(
                f"batch: a tag code is outside its tag table of {n} ids; rejected whole"
            )

    def admit_readings(self, batch: ReadingBatch, tag_ids: Sequence[str]) -> ReadingBatch:
        """The consented rows, tag replaced by the student index; the rest counted."""
        student = self._map(batch.tag, tag_ids)
        keep = student >= 0
        self.dropped += int(len(keep) - np.count_nonzero(keep))
        if keep.all():
            return ReadingBatch(batch.t, student, batch.reader, batch.rssi)
        return ReadingBatch(batch.t[keep], student[keep], batch.reader[keep], batch.rssi[keep])

    def admit_positions(self, batch: PositionBatch, tag_ids: Sequence[str]) -> PositionBatch:
        """The consented fixes, tag replaced by the student index; the rest counted."""
        student = self._map(batch.tag, tag_ids)
        keep = student >= 0
        self.dropped += int(len(keep) - np.count_nonzero(keep))
        b = PositionBatch(batch.t, student, batch.level, batch.x, batch.y, batch.uncertainty)
        return b if keep.all() else b.take(keep)

    def filter_students(self, batch: PositionBatch) -> PositionBatch:
        """Rows (tag = student index) whose consent is still active (after a withdrawal)."""
        if len(batch) == 0:
            return batch
        act = self.active
        keep = (batch.tag < len(act)) & act[np.minimum(batch.tag, max(len(act) - 1, 0))]
        return batch if keep.all() else batch.take(keep)
