"""The feed encodes each message once per view and hands the same bytes to every client
of that view; clients whose roles see different things never share a frame."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, cast

import msgpack
import numpy as np
import pytest

from engine.batches import PositionBatch
from engine.engine import EngineOutput
from engine.events import EventKind, Evidence, ZoneEvent
from store import feed_log
from store.db import open_store
from sts.server.feed import POSITIONS_PER_TURN, Durable, Feed, Outgoing
from sts.server.feed_clients import FeedClient
from sts.server.metrics import Metrics
from transports.feed_protocol import Filters, Subscription, View, meta_of
from transports.json_codec import dumps, event_record

TAGS = ("a1", "a2", "b1")
GROUPS = {"a1": "7A", "a2": "7A", "b1": "8B"}


class Client:
    """What the feed hands one client (the writer's side is not under test)."""

    def __init__(self, view: View, filters: Filters | None = None, binary: bool = True) -> None:
        self.subscription = Subscription(view, filters or Filters())
        self.view = view
        self.binary = binary
        self.queue_depth = 0
        self.durable: list[Durable] = []
        self.positions: Outgoing | None = None

    def offer(self, wanted: list[Durable], last_seq: int) -> None:
        self.durable += wanted
        self.last_seq = last_seq

    def offer_positions(self, positions: Outgoing) -> None:
        self.positions = positions


def feed_with(tmp_path: Path, *clients: Client) -> Feed:
    feed = Feed(
        open_store(tmp_path),
        group_of=GROUPS,
        level_ids=("L0", "L1"),
        tag_ids=lambda: list(TAGS),
        metrics=Metrics(),
    )
    feed.clients.update(clients)
    return feed


def publish_positions(feed: Feed) -> None:
    fixes = PositionBatch.from_arrays(
        t=[10.0, 10.0, 10.0],
        tag=[0, 1, 2],
        level=[0, 1, 0],
        x=[1.0, 2.0, 3.0],
        y=[4.0, 5.0, 6.0],
        uncertainty=[1.0, 1.0, 1.0],
    )
    feed.write(EngineOutput(positions=fixes))
    feed.publish(arrived_at=1.0e9)


def tags_in(positions: Outgoing | None) -> list[str]:
    assert positions is not None
    frame: Any = msgpack.unpackb(positions.frame)
    return list(frame["tags"])


def test_clients_of_one_view_get_the_very_same_positions_frame(tmp_path: Path) -> None:
    a, b = Client(View("safety")), Client(View("safety"))
    publish_positions(feed_with(tmp_path, a, b))
    assert a.positions is not None and b.positions is not None
    assert a.positions.frame is b.positions.frame  # encoded once, shared
    assert tags_in(a.positions) == list(TAGS) and a.positions.rows == 3


def test_teachers_and_filters_get_their_own_positions_frames(tmp_path: Path) -> None:
    safety, teacher_a, teacher_b = (
        Client(View("safety")),
        Client(View("teacher", frozenset({"7A"}))),
        Client(View("teacher", frozenset({"8B"}))),
    )
    level_l1 = Client(View("safety"), Filters(levels=frozenset({"L1"})))
    json_client = Client(View("safety"), binary=False)
    integrator = Client(View("integrator"))
    clients = (safety, teacher_a, teacher_b, level_l1, json_client, integrator)
    publish_positions(feed_with(tmp_path, *clients))
    assert tags_in(teacher_a.positions) == ["a1", "a2"]
    assert tags_in(teacher_b.positions) == ["b1"]
    assert tags_in(level_l1.positions) == ["a2"]
    frames = [c.positions.frame for c in (safety, teacher_a, teacher_b, level_l1) if c.positions]
    assert len({id(f) for f in frames}) == 4  # nobody shares a frame with another view
    assert json_client.positions is not None and isinstance(json_client.positions.frame, str)
    assert integrator.positions is None  # no coordinates, no positions


def alert_message(tag: str) -> dict[str, Any]:
    evidence = {"level": "L0", "x": 12.5, "y": 3.25, "uncertainty_m": 1.0}
    alert = {"id": "al-1", "tag": tag, "zone": "Z", "severity": "critical", "state": "raised"}
    return {"type": "alert", "id": "al-1", "alert": alert | {"evidence": evidence}, "seq": 7}


def test_an_alert_is_encoded_once_per_view_and_never_shown_without_its_redaction() -> None:
    message = alert_message("a1")
    durable = Durable(7, message, meta_of(message))
    safety, admin = View("safety"), View("admin")
    integrator, granted = View("integrator"), View("integrator", grants=frozenset({"coordinates"}))
    assert durable.frame(safety, True) is durable.frame(admin, True)
    assert durable.frame(integrator, True) is not durable.frame(safety, True)
    assert durable.frame(granted, True) is durable.frame(safety, True)
    hidden: Any = msgpack.unpackb(durable.frame(integrator, True))
    assert "x" not in hidden["alert"]["evidence"] and "y" not in hidden["alert"]["evidence"]
    shown: Any = msgpack.unpackb(durable.frame(safety, True))
    assert shown["alert"]["evidence"]["x"] == 12.5


def test_a_published_alert_carries_its_hand_over_and_arrival_times(tmp_path: Path) -> None:
    a, b = Client(View("safety")), Client(View("teacher", frozenset({"8B"})))
    feed = feed_with(tmp_path, a, b)
    message = alert_message("a1")
    feed.pending.append(Durable(7, message, meta_of(message)))
    feed.publish(arrived_at=123.0)
    assert [d.seq for d in a.durable] == [7] and b.durable == []  # not one of b's groups
    assert a.durable[0].arrived_at == 123.0 and a.durable[0].published_at > 0
    assert np.isfinite(a.durable[0].published_at)


def test_a_client_queues_only_what_follows_its_cursor_and_skips_past_the_rest(
    tmp_path: Path,
) -> None:
    feed = feed_with(tmp_path)
    client = FeedClient(
        cast(Any, None), feed, view=View("safety"), token_id="t", max_queue=10, binary=True
    )
    client.subscribe(Subscription(View("safety")), after_seq=0)
    first, second = (
        Durable(seq, alert_message("a1"), meta_of(alert_message("a1"))) for seq in (3, 4)
    )
    client.offer([first], last_seq=6)  # 4..6 were not wanted: the cursor passes them
    assert (client.queue_depth, client.cursor) == (1, 6)
    client.offer([second], last_seq=6)  # already behind the cursor: never queued twice
    assert client.queue_depth == 1


def test_positions_wait_until_every_client_had_its_alerts(tmp_path: Path) -> None:
    a, b = Client(View("safety")), Client(View("safety"))
    feed = feed_with(tmp_path, a, b)
    later: list[Any] = []
    feed.after_writers = later.append
    message = alert_message("a1")
    feed.pending.append(Durable(7, message, meta_of(message)))
    publish_positions(feed)  # a tick with an alert and positions
    assert [d.seq for d in a.durable] == [7] == [d.seq for d in b.durable]
    assert a.positions is None and b.positions is None  # not yet: the writers go first
    assert len(later) == 1
    later[0]()
    assert tags_in(a.positions) == list(TAGS) and b.positions is not None
    publish_positions(feed)  # positions alone: nothing to wait for
    assert len(later) == 1


@pytest.mark.parametrize("training", [False, True])
def test_an_event_message_is_stored_as_dumps_would_write_it(tmp_path: Path, training: bool) -> None:
    events = (
        ZoneEvent(
            1.0e9 + 0.123456,
            "a1",
            "L0-room",
            "L0",
            EventKind.ENTER,
            "v1",
            None,
            Evidence(1.23456, -0.0, "L0", math.nan, 0.5),
        ),
        ZoneEvent(1.0e9, "b1", "", "", EventKind.LOST, "", 12.5, None),
    )
    feed = feed_with(tmp_path)
    feed.training = training
    feed.write(EngineOutput(events=events))
    for durable, event in zip(feed.pending, events, strict=True):
        message = {"type": "event", "id": durable.message["id"], "event": event_record(event)}
        if training:
            message["training"] = True
        stored = feed_log.after(feed.conn, durable.seq - 1, 1)[0].body
        assert stored == dumps(message)
        assert durable.message == {**json.loads(dumps(message)), "seq": durable.seq}


def test_positions_go_out_a_group_of_clients_per_turn_and_the_newest_wins(
    tmp_path: Path,
) -> None:
    clients = [Client(View("safety")) for _ in range(2 * POSITIONS_PER_TURN + 1)]
    feed = feed_with(tmp_path, *clients)
    later: list[Any] = []
    feed.after_writers = later.append
    publish_positions(feed)
    assert sum(c.positions is not None for c in clients) == POSITIONS_PER_TURN
    later.pop(0)()
    assert sum(c.positions is not None for c in clients) == 2 * POSITIONS_PER_TURN
    first = {id(c.positions) for c in clients if c.positions is not None}
    publish_positions(feed)  # a newer tick's positions before the older reached everyone
    later.pop(0)()  # the older hand-over's last group: superseded, hands nothing
    assert sum(c.positions is not None for c in clients) == 2 * POSITIONS_PER_TURN
    while later:
        later.pop(0)()
    assert all(c.positions is not None and id(c.positions) not in first for c in clients)
