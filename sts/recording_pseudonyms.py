"""Which key pseudonymises the tags of a recording, and feed items mapped to and from it.

`sts simulate --out` writes every tag of its folder (recording, roster.csv,
people.csv, breaches.jsonl) as a keyed-HMAC pseudonym (transports/pseudonyms.py).
The key is the one in `--pseudonym-key FILE` (made, mode 0600, when missing), else one
derived from the data key of `--data DIR` (default ./var), so any command with that
data folder's key gives the same pseudonyms. `sts replay --url` maps the pseudonyms
of the campus roster's tags back with the same key before it sends readings to a
server, which knows badges by their real tags.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import hmac
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from geometry.errors import InputError
from simulator.feed import FeedItem, Readings
from store.crypto import decode_key, new_key_text, write_key
from store.keyring import load_keyring
from sts.data_option import add_data_option
from sts.roster_csv import read_roster
from sts.site import SiteFiles
from transports.pseudonyms import Pseudonyms

#: What the data key is stretched with to give the pseudonym key (never the data key).
_PURPOSE = b"sts recording pseudonyms v1"


def add_pseudonym_options(p: argparse.ArgumentParser) -> None:
    """`--data` and `--pseudonym-key`: where the pseudonym key comes from."""
    add_data_option(p, "data folder whose key makes the tag pseudonyms")
    p.add_argument(
        "--pseudonym-key",
        type=Path,
        metavar="FILE",
        help="key file for the tag pseudonyms instead of the data folder's key",
    )


def pseudonyms_from(args: argparse.Namespace) -> Pseudonyms:
    """The pseudonyms under the key the options name."""
    path: Path | None = args.pseudonym_key
    if path is not None:
        if not path.exists():
            write_key(path, new_key_text())
        return Pseudonyms(decode_key(path.read_text(), str(path)))
    data_key = load_keyring(args.data).current.key
    return Pseudonyms(hmac.new(data_key, _PURPOSE, hashlib.sha256).digest())


def real_tags(args: argparse.Namespace, header: Mapping[str, Any], campus: Path) -> dict[str, str]:
    """pseudonym -> tag for the campus roster's badges, when the recording is pseudonymised
    (empty when it is not); an InputError when the key is not the one that made it."""
    made_with = header.get("pseudonyms")
    if not made_with:
        return {}
    pseudonyms = pseudonyms_from(args)
    if made_with.get("key_id") != pseudonyms.key_id:
        raise InputError(
            f"the recording's tags were pseudonymised with key {made_with.get('key_id')}, "
            f"not {pseudonyms.key_id}; give the data folder (--data) or --pseudonym-key it "
            "was made with"
        )
    roster = SiteFiles.campus(campus).roster
    if roster is None:
        return {}
    return pseudonyms.reverse(e.tag for e in read_roster(roster).entries)


def pseudonymised(item: FeedItem, pseudonyms: Pseudonyms) -> FeedItem:
    """A feed item whose tags are pseudonyms."""
    if isinstance(item, Readings):
        return dataclasses.replace(item, tag_ids=pseudonyms.table(item.tag_ids))
    return item


def identified(items: Iterable[FeedItem], real: Mapping[str, str]) -> Iterator[FeedItem]:
    """Feed items with the pseudonyms in `real` turned back into tags (others kept)."""
    last: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    for item in items:
        if isinstance(item, Readings):
            if item.tag_ids is not last[0]:
                last = (item.tag_ids, tuple(real.get(t, t) for t in item.tag_ids))
            item = dataclasses.replace(item, tag_ids=last[1])
        yield item
