"""Encryption at rest: the bodies that hold positions, names and notes, with AES-256-GCM.

Feed messages (event evidence has coordinates; records have staff names and notes)
and alert bodies are sealed before they are written and opened when read. Each
ciphertext is bound to its row: the associated data is the table and the row's key
(a feed message's uid, an alert's id), so a body copied onto another row does not
open. Layout: `STS1` | key id (8 hex chars) | nonce (12 bytes) | ciphertext+tag.

The key (32 random bytes, urlsafe base64) comes from `STS_DATA_KEY`, else the file
named by `STS_KEY_FILE`, else `<data folder>.key` beside (never inside) the data
folder, created with mode 0600 on first use. A copy of the data folder alone opens
nothing. A key file may hold several keys, one a line: the first seals, every one
opens (store/keyring.py), which is how `sts keys rotate` works while a server runs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from geometry.errors import ConfigError

MAGIC = b"STS1"
_ID_LEN = 8
_NONCE_LEN = 12
ENV_KEY = "STS_DATA_KEY"
ENV_KEY_FILE = "STS_KEY_FILE"


class SealError(ConfigError):
    """A body that does not open with this key (wrong key, or moved or edited)."""


@dataclass(frozen=True, slots=True)
class Cipher:
    """AES-GCM with one key; `key_id` names it in every ciphertext."""

    key: bytes

    @property
    def key_id(self) -> bytes:
        """The first 8 hex chars of the key's SHA-256 (says which key sealed a body)."""
        return hashlib.sha256(self.key).hexdigest()[:_ID_LEN].encode()

    def seal(self, text: str, bound_to: str) -> bytes:
        """Encrypt `text`, bound to the row named by `bound_to`."""
        nonce = secrets.token_bytes(_NONCE_LEN)
        sealed = AESGCM(self.key).encrypt(nonce, text.encode("utf-8"), bound_to.encode())
        return MAGIC + self.key_id + nonce + sealed

    def open(self, blob: bytes | str, bound_to: str) -> str:
        """Decrypt a sealed body (plain text from before encryption is returned as is)."""
        if isinstance(blob, str):
            return blob
        if not blob.startswith(MAGIC):
            return blob.decode("utf-8")
        head = len(MAGIC) + _ID_LEN
        if blob[len(MAGIC) : head] != self.key_id:
            raise SealError("a stored body was sealed with another key; give that key")
        nonce, sealed = blob[head : head + _NONCE_LEN], blob[head + _NONCE_LEN :]
        try:
            return AESGCM(self.key).decrypt(nonce, sealed, bound_to.encode()).decode("utf-8")
        except InvalidTag:
            raise SealError(
                f"a stored body does not open for row {bound_to!r}: edited or moved"
            ) from None


def sealed_key_id(blob: bytes | str) -> bytes | None:
    """The id of the key that sealed a body (None for a plain one)."""
    if isinstance(blob, str) or not blob.startswith(MAGIC):
        return None
    return blob[len(MAGIC) : len(MAGIC) + _ID_LEN]


def key_path(folder: Path) -> Path:
    """Where the key file of a data folder lives (STS_KEY_FILE, or beside the folder)."""
    named = os.environ.get(ENV_KEY_FILE)
    if named:
        return Path(named)
    folder = folder.resolve()
    return folder.with_name(folder.name + ".key")


def decode_key(text: str, where: str) -> bytes:
    """32 bytes from urlsafe base64, or a ConfigError naming where it came from."""
    try:
        key = base64.urlsafe_b64decode(text.strip().encode())
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ConfigError(
            f"{where}: not a data key (32 bytes, urlsafe base64); "
            "use the file `sts` created or `sts keys rotate`"
        )
    return key


def new_key_text() -> str:
    """A fresh key as written in a key file."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() + "\n"


def write_key(path: Path, text: str) -> None:
    """Write a key file readable by its owner only (atomically)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def read_keys(text: str, where: str) -> tuple[Cipher, ...]:
    """The keys of a key file's text, one a line, the sealing key first."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ConfigError(f"{where}: empty key file; restore it from your backup")
    return tuple(Cipher(decode_key(line, where)) for line in lines)


class SealsBodies(Protocol):
    """What a store connection seals and opens bodies with (a Cipher or a Keyring)."""

    def seal(self, text: str, bound_to: str) -> bytes:
        """Encrypt `text`, bound to its row."""
        ...

    def open(self, blob: bytes | str, bound_to: str) -> str:
        """Decrypt a body sealed by `seal`."""
        ...


class SealedConnection(sqlite3.Connection):
    """A store connection that carries its data folder's keys (see `open_store`)."""

    cipher: SealsBodies | None = None


def seal_body(conn: sqlite3.Connection, text: str, bound_to: str) -> bytes | str:
    """`text` sealed with the connection's cipher (plain on a connection without one)."""
    cipher = getattr(conn, "cipher", None)
    return text if cipher is None else cipher.seal(text, bound_to)


def open_body(conn: sqlite3.Connection, blob: bytes | str, bound_to: str) -> str:
    """A stored body opened with the connection's cipher."""
    cipher = getattr(conn, "cipher", None)
    if cipher is None:
        return blob if isinstance(blob, str) else blob.decode("utf-8")
    return cipher.open(blob, bound_to)
