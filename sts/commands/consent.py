"""`sts consent grant|withdraw|list|import`: the consent registry of a data folder.

A running `sts serve` on the same --data follows the registry within a poll: a badge
with no active consent left has its gate closed (its next reading is dropped) and what
the store holds about it purged; one left with attendance consent only raises no
more alerts and its alerts are purged; every change is audited.
"""

from __future__ import annotations

import argparse
import getpass
import sqlite3
import time
from datetime import datetime
from pathlib import Path

from store import audit, consent
from store.db import open_store, transaction
from store.retention import checkpoint
from sts.consent_csv import parse_date, parse_expiry, read_consent_file
from sts.data_option import add_data_option

_SCOPE_CHOICES = (*consent.SCOPES, "all")


def _scopes(choice: str) -> tuple[str, ...]:
    return consent.SCOPES if choice == "all" else (choice,)


def _audit(conn: sqlite3.Connection, by: str, action: str, subject: str, detail: str) -> None:
    audit.append(
        conn, at=time.time(), actor=by, role="cli", action=action, subject=subject, detail=detail
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `consent` sub-command and its actions."""
    p = subparsers.add_parser("consent", help="grant, withdraw, list and import consents")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    grant = actions.add_parser("grant", help="record a guardian's consent")
    grant.add_argument("student_id")
    grant.add_argument("--tag", required=True, help="the student's badge (tag id)")
    grant.add_argument("--scope", choices=_SCOPE_CHOICES, default="all")
    grant.add_argument("--from", dest="start", help="ISO date consent starts (today)")
    grant.add_argument("--expires", default="never", help="ISO date, a duration (365d) or never")
    grant.set_defaults(run=run_grant)
    withdraw = actions.add_parser("withdraw", help="withdraw consent: stop and purge at once")
    withdraw.add_argument("student_id")
    withdraw.add_argument("--scope", choices=_SCOPE_CHOICES, default="all")
    withdraw.set_defaults(run=run_withdraw)
    listing = actions.add_parser("list", help="every consent with its dates and status")
    listing.set_defaults(run=run_list)
    imp = actions.add_parser("import", help="import a consent list (or a roster's column)")
    imp.add_argument("file", type=Path, help="student_id,tag,scope,granted_on,expires_on")
    imp.set_defaults(run=run_import)
    for sub in (grant, withdraw, listing, imp):
        add_data_option(sub)
        sub.add_argument("--by", default=getpass.getuser(), help="who records it (audit)")


def run_grant(args: argparse.Namespace) -> int:
    """Record consent in each scope asked for."""
    now = time.time()
    start = parse_date(args.start, "--from") if args.start else now
    expires = parse_expiry(args.expires, now)
    conn = open_store(args.data)
    with transaction(conn):
        for scope in _scopes(args.scope):
            row = consent.grant(
                conn,
                student_id=args.student_id,
                tag=args.tag,
                scope=scope,
                granted_at=start,
                expires_at=expires,
                source=f"cli:{args.by}",
            )
            _audit(conn, args.by, "consent_grant", row.student_id, scope)
    print(f"consent granted ({args.scope}); a running server admits the badge within seconds")
    return 0


def withdraw_student(
    conn: sqlite3.Connection, student_id: str, scopes: tuple[str, ...], by: str
) -> int:
    """Withdraw, purge what no consent covers any more, audit; rows purged (inside a
    transaction)."""
    now = time.time()
    tags = set()
    for scope in scopes:
        row = consent.withdraw(conn, student_id, scope, now)
        tags.add(row.tag)
        _audit(conn, by, "consent_withdraw", row.student_id, scope)
    return sum(consent.purge_withdrawn(conn, tag, now) for tag in sorted(tags))


def run_withdraw(args: argparse.Namespace) -> int:
    """Withdraw consent and purge the student's stored history."""
    conn = open_store(args.data)
    scopes = _scopes(args.scope)
    if args.scope == "all":  # every scope on record (withdraw names an unknown student)
        held = tuple(r.scope for r in consent.for_student(conn, args.student_id))
        scopes = held or scopes[:1]
    with transaction(conn):
        purged = withdraw_student(conn, args.student_id, scopes, args.by)
    checkpoint(conn)  # the purged bytes leave the WAL too
    print(
        f"consent withdrawn ({args.scope}); {purged} stored rows purged; "
        "a running server drops the badge's readings within seconds"
    )
    return 0


def _when(t: float | None) -> str:
    return "-" if t is None else datetime.fromtimestamp(t).astimezone().date().isoformat()


def run_list(args: argparse.Namespace) -> int:
    """Print every consent (no names: the registry keeps none)."""
    now = time.time()
    conn = open_store(args.data)
    print("student_id\ttag\tscope\tgranted\texpires\tstatus\tsource")
    for r in consent.list_all(conn):
        print(
            f"{r.student_id}\t{r.tag}\t{r.scope}\t{_when(r.granted_at)}\t"
            f"{_when(r.expires_at)}\t{r.status(now)}\t{r.source}"
        )
    return 0


def run_import(args: argparse.Namespace) -> int:
    """Import a file: grants recorded, `not granted` rows withdraw what is on record."""
    now = time.time()
    lines = read_consent_file(args.file, now)
    conn = open_store(args.data)
    granted = withdrawn = 0
    with transaction(conn):
        for line in lines:
            if line.granted_at is None:
                held = tuple(r.scope for r in consent.for_student(conn, line.student_id))
                if held:
                    withdraw_student(conn, line.student_id, held, args.by)
                    withdrawn += 1
                continue
            for scope in line.scopes:
                consent.grant(
                    conn,
                    student_id=line.student_id,
                    tag=line.tag,
                    scope=scope,
                    granted_at=line.granted_at,
                    expires_at=line.expires_at,
                    source=f"import:{args.file.name}",
                )
            granted += 1
        detail = f"{args.file.name}: {granted} granted, {withdrawn} withdrawn"
        _audit(conn, args.by, "consent_import", "-", detail)
    print(f"imported {args.file}: {granted} students granted, {withdrawn} withdrawn")
    return 0
