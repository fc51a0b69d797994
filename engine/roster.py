"""The roster: who wears which badge, in which group, with or without guardian consent.

A core type: the consent gate, the rules and attendance read it; `sts/roster_csv.py`
reads it from a file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One badge holder: a student (or staff member), their tag, group and consent."""

    student_id: str
    tag: str
    name: str
    group: str
    consent: bool


@dataclass(frozen=True, slots=True)
class Consent:
    """A tag and whether its consent is active: what the consent gate needs of a roster."""

    tag: str
    consent: bool


@dataclass(frozen=True, slots=True)
class Roster:
    """The roster in file order."""

    entries: tuple[RosterEntry, ...]

    @property
    def groups(self) -> frozenset[str]:
        """Every group named in the roster."""
        return frozenset(e.group for e in self.entries)

    @property
    def tags(self) -> frozenset[str]:
        """Every tag in the roster."""
        return frozenset(e.tag for e in self.entries)

    def tag_groups(self, consented_only: bool = True) -> dict[str, str]:
        """Tag -> group, for consented badges only unless told otherwise."""
        return {e.tag: e.group for e in self.entries if e.consent or not consented_only}

    def members(self, consented_only: bool = True) -> dict[str, list[str]]:
        """Group -> tags, for consented badges only unless told otherwise."""
        out: dict[str, list[str]] = {}
        for e in self.entries:
            if e.consent or not consented_only:
                out.setdefault(e.group, []).append(e.tag)
        return out

    def by_tag(self) -> dict[str, RosterEntry]:
        """Tag -> entry."""
        return {e.tag: e for e in self.entries}
