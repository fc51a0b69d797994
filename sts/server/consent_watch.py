"""The running server follows the consent registry: withdrawals and expiry act at once.

`sts consent withdraw` (another process) writes the registry; a poll that finds it
written since the last one (or a grant's start or expiry passed) compares the badges
with an active consent in any scope with its consent gate. A badge left with none goes
through the hub as `withdraw_consent` (a ChangeRecord reaches the store and every
subscriber; the engine forgets the student), and what the store holds about it is
purged in the same transaction; the badge's next reading is dropped by the gate. A new
grant is admitted the same way. Badges with attendance consent but no safety consent
are the rules' quiet tags: tracked for attendance, no alert raised about them (their
stored alerts are purged when they become quiet).

At start-up the gate (built from the roster) is brought in line with the registry
without records: the engine has processed nothing yet. An empty registry is first
filled from the roster's consent column.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable

from engine.roster import Roster
from store import audit, consent
from store.db import transaction
from store.retention import checkpoint
from sts.hub import Hub

log = logging.getLogger("sts.serve.consent")

#: Who the change records and audit records name for registry-driven changes.
REGISTRY = "consent registry"


class ConsentWatch:
    """Keeps the engine's consent gate equal to the registry (see the module docstring)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        hub: Hub,
        engine_now: Callable[[], float],
    ) -> None:
        self.conn = conn
        self.hub = hub
        self.engine_now = engine_now
        self._version: int | None = None  # the registry's data_version at the last poll
        self._next_change: float | None = None

    def _audit(self, wall: float, action: str, subject: str, detail: str) -> None:
        audit.append(
            self.conn,
            at=wall,
            actor=REGISTRY,
            role="system",
            action=action,
            subject=subject,
            detail=detail,
        )

    def _gate_tags(self) -> set[str]:
        return {t for t in self.hub.engine.gate.tags if t}

    def _quiet(self, wall: float) -> set[str]:
        """Make the attendance-only badges the rules' quiet tags; the newly quiet ones."""
        rules = self.hub.engine.rules
        quiet = frozenset(consent.attendance_only_tags(self.conn, wall))
        if rules is None or getattr(rules, "quiet_tags", quiet) == quiet:
            return set()
        new = set(quiet - rules.quiet_tags)  # type: ignore[attr-defined]
        rules.quiet_tags = quiet  # type: ignore[attr-defined]
        return new

    def start(self, roster: Roster, wall: float) -> None:
        """Seed an empty registry from the roster, then align the gate silently."""
        with transaction(self.conn):
            if consent.is_empty(self.conn):
                n = consent.seed_from_roster(self.conn, roster.entries, wall)
                self._audit(wall, "consent_import", "-", f"{n} students from the roster")
        active = consent.processed_tags(self.conn, wall)
        engine = self.hub.engine
        for tag in self._gate_tags() - active:
            engine.gate.withdraw(tag)
        for tag in active - self._gate_tags():
            engine.grant_consent(tag, wall)
        self._quiet(wall)
        with transaction(self.conn):
            for tag in consent.stopped_tags(self.conn, wall):
                consent.purge_history(self.conn, tag)
            for tag in consent.attendance_only_tags(self.conn, wall):
                consent.purge_alerts(self.conn, tag)
        checkpoint(self.conn)  # the purged bytes leave the WAL too

    def _changed(self, wall: float) -> bool:
        """Whether the registry may differ from the gate: written since, or a time passed."""
        # Reading every active consent on each poll blocks the event loop for milliseconds
        # at a school's size. The registry is written by other processes (`sts consent`),
        # which SQLite's data_version reveals, and otherwise changes only when a grant
        # starts or expires.
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        due = self._next_change is not None and wall >= self._next_change
        if version == self._version and not due:
            return False
        self._version = version
        self._next_change = consent.next_change_at(self.conn, wall)
        return True

    def poll(self, wall: float) -> int:
        """Apply the registry's changes since the last poll; how many badges changed."""
        if not self._changed(wall):
            return 0
        active = consent.processed_tags(self.conn, wall)
        current = self._gate_tags()
        gone, new = sorted(current - active), sorted(active - current)
        quiet = sorted(self._quiet(wall))
        if quiet:
            with transaction(self.conn):
                for tag in quiet:
                    consent.purge_alerts(self.conn, tag)
                    self._audit(wall, "consent_applied", tag, "alerts stopped and purged")
        if not gone and not new:
            return len(quiet)
        with transaction(self.conn):
            for tag in gone:
                self.hub.command(
                    "withdraw_consent",
                    tag,
                    self.engine_now(),
                    by=REGISTRY,
                    reason="consent withdrawn or expired",
                )
                consent.purge_history(self.conn, tag)
                self._audit(wall, "consent_applied", tag, "gate closed, history purged")
            for tag in new:
                self.hub.command("grant_consent", tag, self.engine_now(), by=REGISTRY)
        if gone:
            checkpoint(self.conn)
        log.info("consent registry: %d badges stopped, %d admitted", len(gone), len(new))
        return len(gone) + len(new) + len(quiet)

    async def run(self, every_s: float) -> None:
        """Poll the registry every `every_s` until cancelled."""
        while True:
            await asyncio.sleep(every_s)
            self.poll(time.time())
