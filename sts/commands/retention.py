"""`sts retention run|show`: apply the site's written retention policy to a data folder."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from store import retention
from store.db import open_store
from sts.data_option import add_data_option
from sts.retention_policy import load_policy


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `retention` sub-command and its actions."""
    p = subparsers.add_parser("retention", help="apply or show the retention policy")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    run_p = actions.add_parser("run", help="delete what is past its time (bytes and all)")
    run_p.set_defaults(run=run_run)
    show = actions.add_parser("show", help="print the policy: purpose, need, time per kind")
    show.set_defaults(run=run_show)
    for sub in (run_p, show):
        sub.add_argument("--site", required=True, type=Path, help="site folder (retention.toml)")
        add_data_option(sub)


def run_run(args: argparse.Namespace) -> int:
    """Delete, checkpoint, and print how many rows of each kind went."""
    policy = load_policy(args.site)
    deleted = retention.run(open_store(args.data), policy.keep_s, time.time())
    for kind, n in deleted.items():
        print(f"{kind}\t{n} deleted (kept {policy.kinds[kind].keep})")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """The policy as a table."""
    policy = load_policy(args.site)
    print(f"controller: {policy.controller} ({policy.contact})")
    print("kind\tkeep\tpurpose\tneed")
    for kind, p in policy.kinds.items():
        print(f"{kind}\t{p.keep}\t{p.purpose}\t{p.need}")
    return 0
