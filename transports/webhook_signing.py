"""Webhook signatures: HMAC-SHA256 over id, timestamp and body (the Standard Webhooks scheme).

The server signs every delivery; an integrator's receiver checks it with `verify`. The
signed content is `f"{id}.{timestamp}."` followed by the raw body bytes; the headers are

    webhook-id: the message's unique id (the same on every retry: deduplicate on it)
    webhook-timestamp: Unix seconds when this attempt was signed
    webhook-signature: v1,<base64 of the HMAC-SHA256>

A receiver refuses a timestamp further than `tolerance_s` (default 300 s) from its own
clock, either way: a captured request cannot be replayed later, and clocks may differ by
up to that much. Each retry is signed afresh, so a retried delivery is never stale.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
#: How far a receiver accepts the sender's timestamp from its own clock, s.
DEFAULT_TOLERANCE_S = 300.0


def signature(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one attempt."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of one signed attempt."""
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, msg_id, timestamp, body),
    }


def verify(
    secret: bytes,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """Whether a received request was signed with `secret` within `tolerance_s` of `now`.

    `headers` are looked up case-insensitively. Several space-separated signatures are
    allowed (a secret being rotated): one match is enough."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id = lower.get(ID_HEADER, "")
    try:
        timestamp = int(lower.get(TIMESTAMP_HEADER, ""))
    except ValueError:
        return False
    if not msg_id or abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, msg_id, timestamp, body)
    offered = lower.get(SIGNATURE_HEADER, "").split()
    return any(hmac.compare_digest(expected, s) for s in offered)
