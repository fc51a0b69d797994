"""`sts keys rotate|where`: the data key that seals bodies at rest (store/crypto.py).

Rotation runs beside a live `sts serve` (store/keyring.py, store/rekey.py): the new
key is put first in the key file, with the old ones after it, so every process seals
with the new key from its next write and still opens the old bodies; the old rows are
then resealed in small batches; last, the old keys are dropped from the file. A key
given in `STS_DATA_KEY` cannot be swapped under a running process: rotate it with the
server stopped and set the printed key before starting it again.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from store.crypto import ENV_KEY, Cipher, decode_key, key_path, new_key_text, write_key
from store.db import open_store
from store.keyring import Keyring
from store.rekey import reseal_all
from store.retention import checkpoint
from sts.data_option import add_data_option


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `keys` sub-command and its actions."""
    p = subparsers.add_parser("keys", help="rotate the data key (encryption at rest)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    rotate = actions.add_parser("rotate", help="re-encrypt everything under a new key")
    rotate.add_argument(
        "--batch", type=int, default=500, help="rows resealed per transaction (500)"
    )
    rotate.add_argument(
        "--pause", type=float, default=0.01, metavar="S", help="seconds between batches (0.01)"
    )
    rotate.add_argument(
        "--settle",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds to wait for writes sealed just before the switch, then look again (1)",
    )
    rotate.set_defaults(run=run_rotate)
    where = actions.add_parser("where", help="say where the key is read from")
    where.set_defaults(run=run_where)
    for sub in (rotate, where):
        add_data_option(sub)


def run_rotate(args: argparse.Namespace) -> int:
    """New key first in the key file, old rows resealed in batches, old keys dropped."""
    if args.batch < 1 or args.pause < 0 or args.settle < 0:
        print("sts: --batch must be 1 or more, --pause and --settle 0 or more", file=sys.stderr)
        return 2
    conn = open_store(args.data)
    keys = conn.cipher  # type: ignore[attr-defined]
    assert isinstance(keys, Keyring)
    text = new_key_text()
    new = Cipher(decode_key(text, "new key"))
    if keys.path is None:  # STS_DATA_KEY: the server holds its key until restarted
        opener = Keyring((new, *keys.keys))
        n = reseal_all(conn, opener, new, batch=args.batch, pause_s=args.pause)
        checkpoint(conn)
        print(f"{n} values re-encrypted; set {ENV_KEY} to this new key (shown once):")
        print(text, end="")
        return 0
    path = key_path(args.data)
    old_lines = path.read_text()
    write_key(path, text + old_lines)  # from here every writer seals with the new key
    keys.refresh()
    n = reseal_all(conn, keys, new, batch=args.batch, pause_s=args.pause)
    time.sleep(args.settle)  # a body sealed a moment before the switch lands in this pass
    n += reseal_all(conn, keys, new, batch=args.batch, pause_s=args.pause)
    write_key(path, text)
    checkpoint(conn)
    conn.close()
    print(f"{n} values re-encrypted; the key in {path} is new (back it up apart from the data)")
    return 0


def run_where(args: argparse.Namespace) -> int:
    """Where the key comes from (never the key)."""
    source = ENV_KEY if os.environ.get(ENV_KEY) else str(key_path(args.data))
    print(f"data key: {source}")
    return 0
