"""`sts tokens issue|list|revoke`: the sign-in tokens of a data folder."""

from __future__ import annotations

import argparse
import getpass
import re
import time
from datetime import datetime

from geometry.errors import InputError
from store import audit
from store.db import open_store, transaction
from store.tokens import GRANTS, ROLES, issue_token, list_tokens, revoke_token
from sts.data_option import add_data_option

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_expiry(text: str | None, now: float) -> float | None:
    """--expires: a duration (90m, 12h, 30d), an ISO date-time, or none."""
    if text is None or text == "never":
        return None
    m = _DURATION.match(text)
    if m:
        return now + float(m.group(1)) * _UNIT_S[m.group(2)]
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"--expires {text!r}: give a duration (90m, 12h, 30d), an ISO date-time or never"
        ) from None
    if when.tzinfo is None:
        when = when.astimezone()
    return when.timestamp()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `tokens` sub-command and its actions."""
    p = subparsers.add_parser("tokens", help="issue, list and revoke sign-in tokens")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    issue = actions.add_parser("issue", help="issue a token (printed once)")
    issue.add_argument("--role", required=True, choices=ROLES)
    issue.add_argument("--name", required=True, help="the person or system it is for")
    issue.add_argument("--groups", default="", help="comma-separated groups (teachers)")
    issue.add_argument("--grant", action="append", default=[], choices=GRANTS)
    issue.add_argument("--expires", default="30d", help="90m, 12h, 30d, ISO date-time or never")
    issue.set_defaults(run=run_issue)
    listing = actions.add_parser("list", help="list tokens (never the tokens themselves)")
    listing.set_defaults(run=run_list)
    revoke = actions.add_parser("revoke", help="revoke a token by id (open sockets close)")
    revoke.add_argument("id", help="the token id `sts tokens list` shows")
    revoke.set_defaults(run=run_revoke)
    for sub in (issue, listing, revoke):
        add_data_option(sub)


def run_issue(args: argparse.Namespace) -> int:
    """Issue a token and print it (only time it is shown)."""
    now = time.time()
    groups = tuple(g.strip() for g in args.groups.split(",") if g.strip())
    conn = open_store(args.data)
    with transaction(conn):
        token, info = issue_token(
            conn,
            name=args.name,
            role=args.role,
            now=now,
            groups=groups,
            grants=tuple(args.grant),
            expires_at=parse_expiry(args.expires, now),
        )
        audit.append(
            conn,
            at=now,
            actor=getpass.getuser(),
            role="cli",
            action="token_issue",
            detail=f"token {info.id} ({info.role}) for {info.name}",
        )
    print(token)
    print(f"id {info.id}: {info.role} token for {info.name}; shown once, keep it safe", flush=True)
    return 0


def _when(t: float | None) -> str:
    return (
        "-" if t is None else datetime.fromtimestamp(t).astimezone().isoformat(timespec="seconds")
    )


def run_list(args: argparse.Namespace) -> int:
    """Print every token's id, role, name, groups, expiry and status."""
    now = time.time()
    conn = open_store(args.data)
    print("id\trole\tname\tgroups\tgrants\texpires\tstatus")
    for t in list_tokens(conn):
        groups, grants = ",".join(t.groups) or "-", ",".join(t.grants) or "-"
        print(
            f"{t.id}\t{t.role}\t{t.name}\t{groups}\t{grants}\t{_when(t.expires_at)}\t{t.status(now)}"
        )
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    """Revoke a token; a running server closes its sockets within seconds."""
    conn = open_store(args.data)
    with transaction(conn):
        info = revoke_token(conn, args.id, time.time())
    print(f"revoked {info.id} ({info.role}, {info.name})")
    return 0
