"""The subscriber feed's protocol, sts.v1: messages, filters, role views, close codes.

Pure: values in, bytes out and back, no sockets (docs/protocol.md is the reference,
docs/asyncapi.yaml the machine-readable form). Two subprotocols carry the same
messages: `sts.v1.json` (text frames) and `sts.v1.msgpack` (binary frames).

Every server message has a `seq`. Durable messages (`event`, `alert`, `record`) carry
their own global sequence number, kept in the store so a client resumes after it;
live messages (`positions`, `heartbeat`, `welcome`, `subscribed`, `lost`, `done`,
`error`) carry the sequence of the last durable message sent before them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import msgpack

from transports.ingest_codec import FrameError, load_message

PROTOCOL = "sts.v1"
SUBPROTOCOLS = ("sts.v1.msgpack", "sts.v1.json")

#: Message types the server sends that are kept for resume.
DURABLE_TYPES = ("event", "alert", "record")
#: Message types a subscription can ask for.
SUBSCRIBABLE_TYPES = (*DURABLE_TYPES, "positions")
SEVERITIES = ("info", "warning", "critical")
EVENT_KINDS = ("enter", "exit", "inside", "outside", "cross", "stale", "lost")


class CloseCode(IntEnum):
    """Why the server closed a feed connection (4000-4999: this protocol's own)."""

    GOING_AWAY = 1001  # the server is shutting down: reconnect and resume
    TOO_BIG = 1009  # a message over the size limit
    PROTOCOL_ERROR = 4000  # the first message was not `auth`, or the protocol was not followed
    AUTH_FAILED = 4001  # unknown, expired or already used ticket
    TOKEN_INVALID = 4003  # the token behind this connection was revoked or expired
    TOO_SLOW = 4008  # the client did not read fast enough for too long: resume later
    NO_HEARTBEAT = 4009  # nothing heard from the client for too long
    RATE_LIMITED = 4029  # too many failed sign-ins from this address: wait


#: Error codes of `error` messages (and of gateway frames' errors).
ERROR_CODES = (
    "bad_frame",  # not valid JSON or msgpack, or not a map
    "unknown_type",  # a `type` this protocol does not have
    "bad_field",  # a field missing or of the wrong type
    "too_large",  # over the size or row limit
    "forbidden",  # the role may not do this
    "unknown_alert",  # no alert with this id
    "illegal_transition",  # the alert's state does not allow this (e.g. resolved twice)
    "duplicate",  # a gateway frame id already received
    "not_subscribed",  # a request that needs a subscription first
)


class ProtocolError(FrameError):
    """A client message that breaks the protocol (its code goes into the error frame)."""


# ---- encoding -------------------------------------------------------------------------------


def encode(message: Mapping[str, Any], binary: bool) -> bytes | str:
    """One message as a frame: msgpack bytes or compact JSON text."""
    if binary:
        packed: bytes = msgpack.packb(message, use_bin_type=True)
        return packed
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def decode(frame: bytes | str) -> dict[str, Any]:
    """A frame as a message map, or ProtocolError (`bad_frame`)."""
    msg = load_message(frame)
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("bad_frame", "a message must be a map with a string 'type'")
    return msg


def error_message(code: str, message: str, seq: int, ref: Any = None) -> dict[str, Any]:
    """An `error` message (ref: the id of the client request it answers, if any)."""
    out: dict[str, Any] = {"type": "error", "seq": seq, "code": code, "message": message}
    if ref is not None:
        out["ref"] = ref
    return out


# ---- client requests ------------------------------------------------------------------------


def _strings(msg: Mapping[str, Any], key: str, allowed: Sequence[str] = ()) -> frozenset[str]:
    value = msg.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ProtocolError("bad_field", f"filters.{key} must be a list of strings")
    bad = [v for v in value if allowed and v not in allowed]
    if bad:
        raise ProtocolError("bad_field", f"filters.{key}: {bad[0]!r} is not one of {allowed}")
    if len(value) > 1000:
        raise ProtocolError("too_large", f"filters.{key}: at most 1000 values")
    return frozenset(value)


@dataclass(frozen=True, slots=True)
class Filters:
    """What a subscription wants; an empty set means every value."""

    types: frozenset[str] = frozenset()
    levels: frozenset[str] = frozenset()
    zones: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()  # event kinds
    groups: frozenset[str] = frozenset()
    severity: str = "info"  # the lowest alert severity wanted

    @classmethod
    def parse(cls, raw: Any) -> Filters:
        """Filters from a subscribe message's `filters` map, or ProtocolError."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ProtocolError("bad_field", "filters must be a map")
        known = {"types", "levels", "zones", "kinds", "groups", "severity"}
        extra = sorted(set(raw) - known)
        if extra:
            raise ProtocolError("bad_field", f"filters.{extra[0]}: unknown; use {sorted(known)}")
        severity = raw.get("severity", "info")
        if severity not in SEVERITIES:
            raise ProtocolError("bad_field", f"filters.severity must be one of {SEVERITIES}")
        return cls(
            types=_strings(raw, "types", SUBSCRIBABLE_TYPES),
            levels=_strings(raw, "levels"),
            zones=_strings(raw, "zones"),
            kinds=_strings(raw, "kinds", EVENT_KINDS),
            groups=_strings(raw, "groups"),
            severity=str(severity),
        )

    def key(self) -> tuple[Any, ...]:
        """A hashable form (subscriptions with equal keys share encoded frames)."""
        return (self.types, self.levels, self.zones, self.kinds, self.groups, self.severity)


@dataclass(frozen=True, slots=True)
class Resume:
    """Where a subscription starts: after a sequence, from a time, or now (both None)."""

    after_seq: int | None = None
    since: float | None = None

    @classmethod
    def parse(cls, raw: Any) -> Resume:
        """From a subscribe message's `resume` map ({"after_seq": N} or {"since": t})."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping) or len(raw) != 1:
            raise ProtocolError("bad_field", 'resume must be {"after_seq": N} or {"since": T}')
        if "after_seq" in raw:
            seq = raw["after_seq"]
            if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
                raise ProtocolError("bad_field", "resume.after_seq must be an integer >= 0")
            return cls(after_seq=seq)
        since = raw.get("since")
        if isinstance(since, bool) or not isinstance(since, int | float):
            raise ProtocolError("bad_field", "resume.since must be epoch seconds")
        return cls(since=float(since))


@dataclass(frozen=True, slots=True)
class AlertCommand:
    """A person acknowledges or resolves an alert from the feed, with a note."""

    action: str  # "ack" or "resolve"
    alert: str
    note: str
    ref: Any = None

    @classmethod
    def parse(cls, msg: Mapping[str, Any]) -> AlertCommand:
        """From an `ack` or `resolve` message, or ProtocolError."""
        alert, note = msg.get("alert"), msg.get("note", "")
        if not isinstance(alert, str) or not alert or len(alert) > 64:
            raise ProtocolError("bad_field", "'alert' must be the id of an alert")
        if not isinstance(note, str) or len(note) > 2000:
            raise ProtocolError("bad_field", "'note' must be a string of at most 2000 characters")
        ref = msg.get("id")
        if ref is not None and not isinstance(ref, str | int):
            raise ProtocolError("bad_field", "'id' must be a string or an integer")
        return cls(str(msg["type"]), alert, note, ref)


# ---- what a message is about, and who may see it ------------------------------------------


@dataclass(frozen=True, slots=True)
class Meta:
    """The fields a subscription filters and a role view checks, read from a message."""

    type: str
    tag: str = ""
    zone: str = ""
    level: str = ""
    kind: str = ""  # event kind
    severity: str = ""


def meta_of(message: Mapping[str, Any]) -> Meta:
    """What a durable message is about."""
    kind = str(message["type"])
    if kind == "event":
        e = message["event"]
        return Meta(kind, e["tag"], e.get("zone") or "", e.get("level") or "", e["kind"])
    if kind == "alert":
        a = message["alert"]
        ev = a.get("evidence") or {}
        return Meta(kind, a["tag"], a.get("zone") or "", ev.get("level") or "", "", a["severity"])
    if kind == "record":
        return Meta(kind, str(message.get("tag") or ""))
    return Meta(kind)


@dataclass(frozen=True, slots=True)
class View:
    """What one token may see: its role, the groups of a teacher, its grants."""

    role: str
    groups: frozenset[str] = frozenset()
    grants: frozenset[str] = frozenset()

    @property
    def coordinates(self) -> bool:
        """Whether positions and the x, y of evidence are shown."""
        return self.role in ("admin", "safety", "teacher") or "coordinates" in self.grants

    def may_see(self, meta: Meta, group_of: Mapping[str, str]) -> bool:
        """Whether this role may see a message about `meta` at all."""
        if self.role == "auditor":
            return meta.type == "record"
        if self.role == "gateway":
            return False
        if meta.type == "positions":
            return self.coordinates
        if self.role == "teacher":
            return bool(meta.tag) and group_of.get(meta.tag, "") in self.groups
        return True

    def redact(self, message: dict[str, Any]) -> dict[str, Any]:
        """The message as this role sees it (integrators: no x, y unless granted)."""
        if self.coordinates:
            return message
        inner_key = {"event": "event", "alert": "alert"}.get(str(message["type"]))
        if inner_key is None:
            return message
        inner = dict(message[inner_key])
        ev = inner.get("evidence")
        if ev:
            inner["evidence"] = {k: v for k, v in ev.items() if k not in ("x", "y")}
        return {**message, inner_key: inner}


@dataclass(frozen=True, slots=True)
class Subscription:
    """A client's filters under its view."""

    view: View
    filters: Filters = field(default_factory=Filters)

    def wants(self, meta: Meta, group_of: Mapping[str, str]) -> bool:
        """Whether a message about `meta` goes to this client."""
        f = self.filters
        if not self.view.may_see(meta, group_of):
            return False
        if f.types and meta.type not in f.types:
            return False
        if f.groups and meta.tag and group_of.get(meta.tag, "") not in f.groups:
            return False
        if meta.type == "event" and f.kinds and meta.kind not in f.kinds:
            return False
        if meta.type in ("event", "alert"):
            if f.zones and meta.zone not in f.zones:
                return False
            if f.levels and meta.level not in f.levels:
                return False
        if meta.type != "alert":
            return True
        return SEVERITIES.index(meta.severity) >= SEVERITIES.index(f.severity)
