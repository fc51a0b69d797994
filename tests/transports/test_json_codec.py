"""JSON lines codec: stable bytes, sorted keys, round trip, alerts through alert_record."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.batches import TIME_MAX_S, TIME_MIN_S
from engine.events import Alert, AlertState, EventKind, Evidence, Severity, ZoneEvent
from transports.json_codec import (
    decode_event,
    dumps,
    encode_alert,
    encode_event,
    encode_lines,
    event_record,
)

finite = st.floats(min_value=-1e9, max_value=1e10, allow_nan=False, allow_infinity=False)
text = st.text(min_size=0, max_size=12)

evidence = st.builds(
    Evidence,
    x=finite,
    y=finite,
    level=text,
    uncertainty_m=st.floats(min_value=0, max_value=1e4),
    age_s=st.floats(min_value=0, max_value=1e6),
)
times = st.floats(min_value=TIME_MIN_S, max_value=TIME_MAX_S)
events = st.builds(
    ZoneEvent,
    t=times,
    tag=st.text(min_size=1, max_size=12),
    zone=text,
    level=text,
    kind=st.sampled_from(list(EventKind)),
    visit=text,
    duration_s=st.none() | st.floats(min_value=0, max_value=1e6),
    evidence=st.none() | evidence,
)


@given(events)
def test_fast_event_encoder_matches_the_generic_one(ev: ZoneEvent) -> None:
    assert encode_event(ev) == dumps(event_record(ev))


@given(events)
def test_event_round_trip_up_to_rounding(ev: ZoneEvent) -> None:
    line = encode_event(ev)
    assert "\n" not in line
    back = decode_event(line)
    assert (back.tag, back.zone, back.level, back.kind, back.visit) == (
        ev.tag,
        ev.zone,
        ev.level,
        ev.kind,
        ev.visit,
    )
    assert math.isclose(back.t, ev.t, abs_tol=1e-6)
    assert (back.evidence is None) == (ev.evidence is None)
    # encoding what was decoded gives the same bytes: the format is a fixed point
    assert encode_event(back) == line


def test_keys_sorted_no_spaces_negative_zero_and_nan() -> None:
    ev = ZoneEvent(
        t=-0.0,
        tag="b-1",
        zone="",
        level="L0",
        kind=EventKind.STALE,
        duration_s=float("nan"),
        evidence=Evidence(1.23456789, 2.0, "L0", 1.5, 30.0),
    )
    line = encode_event(ev)
    assert line.startswith('{"duration_s":null,"evidence":{"age_s":30.0,')
    assert '"t":0.0' in line and " " not in line
    obj = json.loads(line)
    assert list(obj) == sorted(obj)
    assert obj["evidence"]["x"] == 1.234568


def test_alert_line_has_the_required_fields_and_is_stable() -> None:
    a = Alert(
        "al-1",
        10.0,
        "restricted",
        Severity.CRITICAL,
        "b-1",
        "boiler",
        AlertState.RAISED,
        evidence=Evidence(1.0, 2.0, "L0", 1.5, 0.0),
        details={"z": 1, "a": frozenset({"y", "x"})},
    )
    line = encode_alert(a)
    obj = json.loads(line)
    for key in ("id", "t", "rule", "severity", "tag", "zone", "state"):
        assert key in obj
    assert obj["severity"] == "critical" and obj["state"] == "raised"
    assert obj["details"] == {"a": ["x", "y"], "z": 1}
    assert encode_lines([a, a]) == line + "\n" + line + "\n"


def test_decode_accepts_flat_evidence() -> None:
    line = '{"t": 5, "tag": "b", "kind": "enter", "zone": "z", "x": 1, "y": 2, "uncertainty_m": 3}'
    ev = decode_event(line)
    assert ev.evidence is not None and ev.evidence.uncertainty_m == 3.0


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"t": NaN, "tag": "a", "kind": "enter"}', "NaN"),
        ('{"t": 1796027100000, "tag": "a", "kind": "enter"}', "outside"),
        ('{"t": -5, "tag": "a", "kind": "enter"}', "outside"),
        ("[" * 100_000 + "]" * 100_000, "nested"),
    ],
)
def test_decoding_refuses_numbers_that_are_not_times(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_event(line)
