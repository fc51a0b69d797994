"""The feed protocol: filters, resume, role views, and fuzzed client messages."""

from __future__ import annotations

import contextlib
import json

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transports.feed_protocol import (
    AlertCommand,
    Filters,
    Meta,
    ProtocolError,
    Resume,
    Subscription,
    View,
    decode,
    encode,
    meta_of,
)
from transports.ingest_codec import FrameError

GROUPS = {"b1": "Y7A", "b2": "Y9A"}


def alert(tag: str, severity: str = "critical") -> dict:
    evidence = {"x": 1.0, "y": 2.0, "level": "L0", "uncertainty_m": 1.5, "age_s": 0.5}
    body = {"tag": tag, "zone": "L0-boiler-room", "severity": severity, "evidence": evidence}
    return {"type": "alert", "id": "al-1", "seq": 4, "alert": body}


def test_messages_round_trip_in_both_formats() -> None:
    message = alert("b1")
    assert decode(encode(message, binary=True)) == message
    assert decode(encode(message, binary=False)) == message


def test_filters_select_by_type_zone_level_group_and_severity() -> None:
    meta = meta_of(alert("b1", "warning"))
    view = View("safety")
    wants = lambda **f: Subscription(view, Filters.parse(f)).wants(meta, GROUPS)  # noqa: E731
    assert wants()
    assert wants(types=["alert"]) and not wants(types=["event"])
    assert wants(zones=["L0-boiler-room"]) and not wants(zones=["L1-roof"])
    assert wants(levels=["L0"]) and not wants(levels=["L1"])
    assert wants(groups=["Y7A"]) and not wants(groups=["Y9A"])
    assert wants(severity="warning") and not wants(severity="critical")


def test_role_views() -> None:
    meta = meta_of(alert("b1"))
    assert Subscription(View("teacher", frozenset({"Y7A"}))).wants(meta, GROUPS)
    assert not Subscription(View("teacher", frozenset({"Y9A"}))).wants(meta, GROUPS)
    assert not Subscription(View("auditor")).wants(meta, GROUPS)
    assert not View("integrator").may_see(Meta("positions"), GROUPS)
    redacted = View("integrator").redact(alert("b1"))
    assert set(redacted["alert"]["evidence"]) == {"level", "uncertainty_m", "age_s"}
    granted = View("integrator", grants=frozenset({"coordinates"})).redact(alert("b1"))
    assert granted["alert"]["evidence"]["x"] == 1.0


@pytest.mark.parametrize(
    "raw",
    [{"levels": "L0"}, {"severity": "loud"}, {"kinds": ["jump"]}, {"colour": []}, []],
)
def test_bad_filters_are_protocol_errors(raw: object) -> None:
    with pytest.raises(ProtocolError):
        Filters.parse(raw)


def test_resume_and_alert_commands_check_their_fields() -> None:
    assert Resume.parse({"after_seq": 7}).after_seq == 7
    assert Resume.parse({"since": 12.5}).since == 12.5
    for bad in ({"after_seq": -1}, {"after_seq": "7"}, {"since": True}, {"a": 1, "b": 2}):
        with pytest.raises(ProtocolError):
            Resume.parse(bad)
    assert AlertCommand.parse({"type": "ack", "alert": "al-1", "note": "ok"}).alert == "al-1"
    with pytest.raises(ProtocolError):
        AlertCommand.parse({"type": "ack", "alert": 5})


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_decoding_random_frames_only_raises_frame_errors(frame: bytes | str) -> None:
    with contextlib.suppress(FrameError):
        decode(frame)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["filters", "resume", "alert", "note", "id"]), json_values))
def test_random_subscribe_and_ack_messages_only_raise_protocol_errors(body: dict) -> None:
    for parse in (
        lambda: Filters.parse(body.get("filters")),
        lambda: Resume.parse(body.get("resume")),
        lambda: AlertCommand.parse({"type": "ack", **body}),
    ):
        with contextlib.suppress(ProtocolError):
            parse()
    assert decode(json.dumps({"type": "x", **body})) == {"type": "x", **body}
    assert decode(msgpack.packb({"type": "x"})) == {"type": "x"}
