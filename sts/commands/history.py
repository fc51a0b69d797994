"""`sts history`: incident investigation from stored zone events (role-checked, audited).

Who was in zone Z between t1 and t2 (`--zone`), or where was student S (`--student`).
"""

from __future__ import annotations

import argparse
import json

from geometry.errors import InputError
from store import student_data
from store.db import open_store
from sts.access import audited, require_role
from sts.consent_csv import parse_date
from sts.data_option import add_data_option

ROLES = ("admin", "safety")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `history` sub-command."""
    p = subparsers.add_parser("history", help="stored zone events: who was where, when")
    p.add_argument("--zone", default="", help="zone id: who was in it")
    p.add_argument("--student", default="", help="student id: where they were")
    p.add_argument("--from", dest="t1", required=True, help="ISO date-time (start)")
    p.add_argument("--to", dest="t2", required=True, help="ISO date-time (end)")
    p.add_argument("--token", help="an admin or safety token (or STS_TOKEN)")
    add_data_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print matching events as JSON lines, oldest first."""
    if not args.zone and not args.student:
        raise InputError("history: give --zone, --student or both")
    t1, t2 = parse_date(args.t1, "--from"), parse_date(args.t2, "--to")
    conn = open_store(args.data)
    who = require_role(conn, args.token, ROLES, "history")
    tags = student_data.find_student(conn, args.student).tags if args.student else ()
    events = student_data.zone_events(conn, t1=t1, t2=t2, zone=args.zone, tags=tags)
    subject = args.student.strip() or "-"
    audited(
        conn,
        who,
        "history_query",
        subject,
        f"zone {args.zone or '*'} {args.t1}..{args.t2}: {len(events)}",
    )
    for event in events:
        print(json.dumps(event, ensure_ascii=False))
    return 0
