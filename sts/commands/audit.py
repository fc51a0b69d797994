"""`sts audit verify|show`: the hash-chained audit log of a data folder, for auditors."""

from __future__ import annotations

import argparse
import json
from datetime import datetime

from store import audit
from store.db import open_store
from sts.data_option import add_data_option


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `audit` sub-command and its actions."""
    p = subparsers.add_parser("audit", help="verify and show the audit log")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="check the hash chain; name the first break")
    verify.set_defaults(run=run_verify)
    show = actions.add_parser("show", help="print the audit records")
    show.add_argument("--last", type=int, help="only the newest N records")
    show.add_argument("--json", action="store_true", help="one JSON object per line")
    show.set_defaults(run=run_show)
    for sub in (verify, show):
        add_data_option(sub)


def run_verify(args: argparse.Namespace) -> int:
    """Exit 0 when the chain is intact, 1 (naming the first broken record) when not."""
    verdict = audit.verify(open_store(args.data))
    if verdict.ok:
        print(f"audit log intact: {verdict.records} records")
        return 0
    print(f"audit log BROKEN at record {verdict.broken_seq}: {verdict.reason}")
    return 1


def run_show(args: argparse.Namespace) -> int:
    """Print records oldest first (tab-separated, or JSON lines)."""
    rows = audit.records(open_store(args.data), limit=args.last)
    if not args.json:
        print("seq\tat\tactor\trole\taction\tsubject\tdetail")
    for r in rows:
        when = datetime.fromtimestamp(r.at).astimezone().isoformat(timespec="seconds")
        if args.json:
            print(
                json.dumps(
                    {
                        "seq": r.seq,
                        "at": when,
                        "actor": r.actor,
                        "role": r.role,
                        "action": r.action,
                        "subject": r.subject,
                        "detail": r.detail,
                        "hash": r.hash,
                    }
                )
            )
        else:
            print(f"{r.seq}\t{when}\t{r.actor}\t{r.role}\t{r.action}\t{r.subject}\t{r.detail}")
    return 0
