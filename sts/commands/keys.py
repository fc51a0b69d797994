"""`sts keys rotate|where`: the data key that seals bodies at rest (store/crypto.py)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from store.crypto import ENV_KEY, Cipher, decode_key, key_path, new_key_text, write_key
from store.db import open_store
from store.rekey import reseal_all


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `keys` sub-command and its actions."""
    p = subparsers.add_parser("keys", help="rotate the data key (encryption at rest)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    rotate = actions.add_parser("rotate", help="re-encrypt everything under a new key")
    rotate.set_defaults(run=run_rotate)
    where = actions.add_parser("where", help="say where the key is read from")
    where.set_defaults(run=run_where)
    for sub in (rotate, where):
        sub.add_argument("--data", type=Path, default=Path("var"), help="data folder (./var)")


def run_rotate(args: argparse.Namespace) -> int:
    """New key written beside the old one, rows resealed, then the new key takes its place.

    Stop `sts serve` first: it holds the old key until it restarts."""
    conn = open_store(args.data)
    old = getattr(conn, "cipher", None)
    assert isinstance(old, Cipher)
    text = new_key_text()
    new = Cipher(decode_key(text, "new key"))
    if os.environ.get(ENV_KEY):
        n = reseal_all(conn, old, new)
        print(f"{n} rows re-encrypted; set {ENV_KEY} to this new key (shown once):")
        print(text, end="")
        return 0
    path = key_path(args.data)
    pending = path.with_name(path.name + ".new")
    write_key(pending, text)  # a crash after the commit still has the key that opens it
    n = reseal_all(conn, old, new)
    os.replace(pending, path)
    print(f"{n} rows re-encrypted; the key in {path} is new (back it up apart from the data)")
    return 0


def run_where(args: argparse.Namespace) -> int:
    """Where the key comes from (never the key)."""
    source = ENV_KEY if os.environ.get(ENV_KEY) else str(key_path(args.data))
    print(f"data key: {source}")
    return 0
