"""The keys of a data folder: the first seals, every one opens, and a changed key file is
picked up at once, so `sts keys rotate` needs no restart of a running server.

A key file holds one key a line (store/crypto.py). Before each seal the keyring looks
at the file's identity (inode, size, modification time); when the file was replaced
it reads it again, so from the moment `sts keys rotate` puts the new key first, every
body written anywhere is sealed with it. A body sealed with a key the keyring does not
hold makes it read the file once more before it gives up (another process may have
added that key a moment ago). A key from `STS_DATA_KEY` is fixed for the process.
"""

from __future__ import annotations

import os
from pathlib import Path

from store.crypto import (
    ENV_KEY,
    Cipher,
    SealError,
    decode_key,
    key_path,
    new_key_text,
    read_keys,
    sealed_key_id,
    write_key,
)


class Keyring:
    """A data folder's keys, by key id; `path` is None for a key from the environment."""

    def __init__(self, keys: tuple[Cipher, ...], path: Path | None = None) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = self._file_stamp()
        self._use(keys)

    def _use(self, keys: tuple[Cipher, ...]) -> None:
        self.keys = keys
        self._by_id = {k.key_id: k for k in keys}

    def _file_stamp(self) -> tuple[int, int, int] | None:
        if self.path is None:
            return None
        st = os.stat(self.path)
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def refresh(self) -> bool:
        """Read the key file again if it changed since last read; whether it did."""
        if self.path is None:
            return False
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        self._use(read_keys(self.path.read_text(), str(self.path)))
        self._stamp = stamp
        return True

    @property
    def current(self) -> Cipher:
        """The key that seals new bodies."""
        return self.keys[0]

    def seal(self, text: str, bound_to: str) -> bytes:
        """Encrypt `text` with the current key (after a look at the key file)."""
        self.refresh()
        return self.current.seal(text, bound_to)

    def open(self, blob: bytes | str, bound_to: str) -> str:
        """Decrypt a body with the key that sealed it (plain text is returned as is)."""
        key_id = sealed_key_id(blob)
        if key_id is None:
            return self.current.open(blob, bound_to)
        key = self._by_id.get(key_id)
        if key is None and self.refresh():
            key = self._by_id.get(key_id)
        if key is None:
            raise SealError("a stored body was sealed with another key; give that key")
        return key.open(blob, bound_to)


def load_keyring(folder: Path) -> Keyring:
    """The data folder's keys: from the environment, or its key file (made once)."""
    env = os.environ.get(ENV_KEY)
    if env:
        return Keyring((Cipher(decode_key(env, ENV_KEY)),))
    path = key_path(folder)
    if not path.exists():
        write_key(path, new_key_text())
    return Keyring(read_keys(path.read_text(), str(path)), path)
