"""`sts student export|erase ID`: for guardians' requests (admins only, audited)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from store import student_data
from store.db import open_store, transaction
from store.retention import checkpoint
from sts.access import audited, require_role
from sts.data_option import add_data_option

ROLES = ("admin",)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `student` sub-command and its actions."""
    p = subparsers.add_parser("student", help="export or erase what is held about a student")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="everything held, as JSON (admin token)")
    export.add_argument("--out", type=Path, help="write here instead of standard output")
    export.set_defaults(run=run_export)
    erase = actions.add_parser("erase", help="delete everything held (admin token)")
    erase.set_defaults(run=run_erase)
    for sub in (export, erase):
        sub.add_argument("student_id")
        sub.add_argument("--token", help="an admin token (or STS_TOKEN)")
        add_data_option(sub)


def run_export(args: argparse.Namespace) -> int:
    """Print (or write) the student's data as one JSON document."""
    conn = open_store(args.data)
    who = require_role(conn, args.token, ROLES, "student export")
    document = student_data.export(conn, args.student_id)
    audited(
        conn, who, "student_export", document["student_id"], f"{len(document['messages'])} messages"
    )
    text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
    if args.out is None:
        print(text, end="")
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0


def run_erase(args: argparse.Namespace) -> int:
    """Delete the student's messages, alerts and consent; audited."""
    conn = open_store(args.data)
    who = require_role(conn, args.token, ROLES, "student erase")
    with transaction(conn):
        gone = student_data.erase(conn, args.student_id)
        audited(conn, who, "student_erase", args.student_id.strip(), f"{gone} rows")
    checkpoint(conn)  # the erased bytes leave the WAL too
    print(f"erased {gone} stored rows; a running server stops the badge within seconds")
    return 0
