"""Keyed-HMAC pseudonyms for badge tags in recordings.

A recording copied elsewhere should not carry real badge ids. Each tag is replaced by
`ps-` and the first 16 hex characters of HMAC-SHA256(key, tag): the same tag under
the same key always gives the same pseudonym (a replay gives the same events, with
pseudonymous ids), and without the key a pseudonym cannot be turned back into a tag
or matched against a list of tags. Whoever holds the key and the real tags can map
pseudonyms back (`Pseudonyms.reverse`).

    >>> p = Pseudonyms(b"k" * 32)
    >>> p.of("badge-0001") == p.of("badge-0001") and p.of("badge-0001").startswith("ps-")
    True
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

PREFIX = "ps-"
SCHEME = "hmac-sha256/64"


class Pseudonyms:
    """Tags to pseudonyms under one key (tag tables are mapped once and remembered)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._seen: dict[str, str] = {}
        self._last: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())

    @property
    def key_id(self) -> str:
        """Names the key in a recording's header (a hash of it, never the key)."""
        return hashlib.sha256(b"sts pseudonym key id" + self._key).hexdigest()[:8]

    def of(self, tag: str) -> str:
        """The pseudonym of one tag."""
        found = self._seen.get(tag)
        if found is None:
            digest = hmac.new(self._key, tag.encode("utf-8", "surrogatepass"), hashlib.sha256)
            found = self._seen[tag] = PREFIX + digest.hexdigest()[:16]
        return found

    def table(self, tags: tuple[str, ...]) -> tuple[str, ...]:
        """A tag table mapped (the same table as last time costs nothing)."""
        if tags is not self._last[0]:
            self._last = (tags, tuple(self.of(t) for t in tags))
        return self._last[1]

    def reverse(self, tags: Iterable[str]) -> dict[str, str]:
        """pseudonym -> tag for the tags given (e.g. a campus roster's)."""
        return {self.of(t): t for t in tags}
