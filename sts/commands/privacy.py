"""`sts privacy notice`: the plain-language notice from the configuration in force."""

from __future__ import annotations

import argparse
from pathlib import Path

from sts.privacy_notice import notice_text
from sts.retention_policy import load_policy
from sts.serve_config import load_config
from sts.site import SiteFiles, load_site


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `privacy` sub-command."""
    p = subparsers.add_parser("privacy", help="write the privacy notice for students and parents")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    notice = actions.add_parser("notice", help="the notice, from retention.toml, rules, sts.toml")
    notice.add_argument("--site", required=True, type=Path, help="site folder")
    notice.add_argument("--config", type=Path, help="sts.toml the server runs with")
    notice.add_argument("--out", type=Path, help="write here instead of standard output")
    notice.set_defaults(run=run_notice)


def run_notice(args: argparse.Namespace) -> int:
    """Print or write the notice."""
    site = load_site(SiteFiles.campus(args.site))
    text = notice_text(load_policy(args.site), site.rules, load_config(args.config))
    if args.out is None:
        print(text, end="")
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0
