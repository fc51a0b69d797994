"""`sts feedback submit|list|answer|close`: concerns from students, parents and staff.

Anyone may submit (no name is asked); listing, answering and closing need an admin
token (`--token` or `STS_TOKEN`). Kept under the retention policy (kind `feedback`).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import datetime

from store import feedback
from store.db import open_store, transaction
from sts.access import require_role
from sts.data_option import add_data_option

ROLES = ("admin",)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `feedback` sub-command and its actions."""
    p = subparsers.add_parser("feedback", help="leave, list, answer and close feedback")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    submit = actions.add_parser("submit", help="leave feedback or a concern")
    submit.add_argument("--from", dest="author", required=True, choices=feedback.FROM)
    submit.add_argument("--text", required=True)
    submit.set_defaults(run=run_submit)
    listing = actions.add_parser("list", help="every piece of feedback (admin token)")
    listing.set_defaults(run=run_list)
    answer = actions.add_parser("answer", help="answer feedback (admin token)")
    answer.add_argument("id")
    answer.add_argument("--text", required=True)
    answer.set_defaults(run=run_answer)
    close = actions.add_parser("close", help="close feedback (admin token)")
    close.add_argument("id")
    close.set_defaults(run=run_close)
    for sub in (submit, listing, answer, close):
        add_data_option(sub)
        if sub is not submit:
            sub.add_argument("--token", help="an admin token (or STS_TOKEN)")


def run_submit(args: argparse.Namespace) -> int:
    """Store it and print its id."""
    conn = open_store(args.data)
    with transaction(conn):
        fid = feedback.submit(conn, author=args.author, text=args.text, at=time.time())
    print(f"thank you: feedback {fid} recorded; the school will answer it")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """id, date, from, state, text, answer (tab-separated)."""
    conn = open_store(args.data)
    require_role(conn, args.token, ROLES, "feedback list")
    print("id\tat\tfrom\tstate\ttext\tanswer")
    for f in feedback.list_all(conn):
        when = datetime.fromtimestamp(f.at).astimezone().isoformat(timespec="minutes")
        print(f"{f.id}\t{when}\t{f.author}\t{f.state}\t{f.text}\t{f.answer or '-'}")
    return 0


def _admin_change(
    args: argparse.Namespace, what: str, done: str, change: Callable[..., object]
) -> int:
    conn = open_store(args.data)
    require_role(conn, args.token, ROLES, f"feedback {what}")
    with transaction(conn):
        change(conn)
    print(f"feedback {args.id} {done}")
    return 0


def run_answer(args: argparse.Namespace) -> int:
    """Record the answer."""
    return _admin_change(
        args, "answer", "answered", lambda c: feedback.answer(c, args.id, args.text)
    )


def run_close(args: argparse.Namespace) -> int:
    """Close it (retention then deletes it in time)."""
    return _admin_change(args, "close", "closed", lambda c: feedback.close(c, args.id, time.time()))
