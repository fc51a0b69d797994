"""The feed's sink: every durable message stored before it is sent, then fanned out.

`Feed.write` (a hub sink) turns an EngineOutput into durable messages (events, alert
changes, change records), each with a unique id, and appends them to the store inside
the tick's transaction; `publish()`, called after the commit, hands them to every
client whose subscription wants them. Positions are not stored: the newest batch of a
tick is kept and sent once per client per tick (latest wins), and prepared (the newest
fix per badge, a frame per view) only after the tick's durable messages went out.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from engine.alerts import alert_record
from engine.batches import PositionBatch
from engine.engine import EngineOutput
from engine.records import ChangeKind, change_record_dict
from store import feed_log
from sts.server.metrics import Metrics
from transports.feed_protocol import Meta, Subscription, View, encode, meta_of
from transports.json_codec import dumps, encode_event, encode_record, event_record

_CONSENT_KINDS = (ChangeKind.CONSENT_GRANTED, ChangeKind.CONSENT_WITHDRAWN)


#: Clients handed a tick's positions per turn of the event loop: the frames are written
#: to idle sockets as they are handed over, so a gateway frame arriving meanwhile waits
#: for one group of writes, not for a whole site's positions to every client.
POSITIONS_PER_TURN = 16


def _uid(prefix: str, text: str) -> str:
    return f"{prefix}-{hashlib.blake2b(text.encode(), digest_size=10).hexdigest()}"


@dataclass(slots=True)
class Durable:
    """One stored message, ready to send: its dict, what it is about, encodings per view."""

    seq: int
    message: dict[str, Any]
    meta: Meta
    published_at: float = 0.0  # monotonic time handed to the writers (0: read from the store)
    arrived_at: float = 0.0  # wall time the oldest frame behind it arrived (0: not from one)
    _frames: dict[tuple[bool, bool], bytes | str] = field(default_factory=dict)

    @classmethod
    def from_log(cls, row: feed_log.LoggedMessage) -> Durable:
        """A message read back from the resume buffer."""
        message = {**json.loads(row.body), "seq": row.seq}
        return cls(row.seq, message, meta_of(message))

    def frame(self, view: View, binary: bool) -> bytes | str:
        """The message as `view` sees it, encoded once per (coordinates, format)."""
        key = (view.coordinates, binary)
        out = self._frames.get(key)
        if out is None:
            out = self._frames[key] = encode(view.redact(self.message), binary)
        return out


class Outgoing(NamedTuple):
    """A frame for one client's writer, and what to count when it is sent."""

    frame: bytes | str
    kind: str  # the message type (or "control")
    rows: int = 0  # position rows in it
    published_at: float = 0.0  # monotonic time it was handed over (0: not a live message)
    arrived_at: float = 0.0  # wall time the oldest gateway frame behind it arrived (0: none)


def event_body(line: str, uid: str, training: bool) -> str:
    """An event message's stored JSON, `dumps(message)`, built around the event's own line
    (json_codec.encode_event): the record is not cleaned and encoded a second time."""
    flag = ',"training":true' if training else ""
    return f'{{"event":{line},"id":"{uid}"{flag},"type":"event"}}'


def newest_per_tag(batch: PositionBatch) -> PositionBatch:
    """One fix per tag, its newest (latest wins within a tick)."""
    order = np.lexsort((batch.t, batch.tag))[::-1]
    _, first = np.unique(batch.tag[order], return_index=True)
    return batch.take(np.sort(order[first]))


@dataclass(slots=True)
class PositionFrame:
    """The newest fixes of a tick and the tag table their codes index."""

    batch: PositionBatch
    tag_ids: tuple[str, ...]
    level_ids: tuple[str, ...]

    def groups(self, group_of: Mapping[str, str]) -> Any:
        """Each fix's group ("" when none), for the fixes of this tick only."""
        tags = self.tag_ids
        return np.array([group_of.get(tags[i], "") for i in self.batch.tag.tolist()], object)

    def rows(self, mask: Any) -> dict[str, Any]:
        """The selected rows as columns (positions message body, without type/seq)."""
        b = self.batch.take(mask)
        return {
            "tags": [self.tag_ids[i] for i in b.tag.tolist()],
            "levels": [self.level_ids[i] for i in b.level.tolist()],
            "x": np.round(b.x, 2).tolist(),
            "y": np.round(b.y, 2).tolist(),
            "uncertainty_m": np.round(b.uncertainty, 2).tolist(),
            "t": np.round(b.t, 3).tolist(),
        }


class Feed:
    """Stores and fans out the feed (see the module docstring)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        group_of: Mapping[str, str],
        level_ids: tuple[str, ...],
        tag_ids: Callable[[], list[str]],
        metrics: Metrics,
    ) -> None:
        self.conn = conn
        self.group_of = group_of
        self.level_ids = level_ids
        self._tag_ids = tag_ids
        self.metrics = metrics
        self.clients: set[Any] = set()  # FeedClient, kept loose to avoid an import cycle
        self.pending: list[Durable] = []
        self.positions: PositionBatch | None = None  # the tick's fixes, prepared once sent
        self.alert_tag: dict[str, str] = {}
        self.listeners: list[
            Callable[[Durable], None]
        ] = []  # called per stored message (webhooks, when they come)
        _, self.last_seq = feed_log.bounds(conn)
        self.training = False  # every message says "training": true (sts/server/training.py)
        # Runs a callback once the writers woken now have had their turn (the server
        # gives loop.call_soon); None: at once.
        self.after_writers: Callable[[Callable[[], None]], object] | None = None
        self._positions_turn = 0  # counts positions hand-overs (a newer one stops an older)

    # ---- the sink -------------------------------------------------------------------------

    def write(self, out: EngineOutput) -> None:
        """Store this output's durable messages (inside the caller's transaction)."""
        for event in out.events:
            line = encode_event(event)
            uid = _uid("ev", line)
            message = {"type": "event", "id": uid, "event": event_record(event)}
            self._store(message, event.tag, event_body(line, uid, self.training))
            self.metrics.event(event.kind.value).inc()
        for alert in out.alerts:
            record = alert_record(alert)
            self.alert_tag[alert.id] = alert.tag
            change = _uid("ac", dumps(record))
            message = {"type": "alert", "id": alert.id, "change": change, "alert": record}
            if self._store(message, alert.tag) is not None:
                feed_log.put_alert(self.conn, alert.id, alert.state.value, dumps(record))
            self.metrics.alerts.labels(alert.severity.value, alert.state.value).inc()
        for change_record in out.records:
            subject = change_record.subject
            tag = subject if change_record.kind in _CONSENT_KINDS else self.alert_tag.get(subject)
            body = change_record_dict(change_record)
            message = {"type": "record", "id": _uid("rc", encode_record(change_record))}
            message |= {"record": body, "tag": tag or ""}
            self._store(message, tag or "")
        if len(out.positions):
            self.metrics.fixes.inc(len(out.positions))
            self.positions = out.positions

    def close(self) -> None:
        """Nothing to finish: every message is stored as it is written."""

    def _store(self, message: dict[str, Any], tag: str, body: str = "") -> int | None:
        """Append one message (`body`: its `dumps`, when the caller has it already)."""
        if self.training:
            message["training"] = True
        body = body or dumps(message)
        clean = json.loads(body)  # what every client gets: the stored body's values
        seq = feed_log.append(
            self.conn,
            at=time.time(),
            kind=str(message["type"]),
            uid=str(message.get("change") or message["id"]),
            tag=tag,
            body=body,
        )
        if seq is not None:  # None: already stored (a replay after a restart)
            clean["seq"] = seq
            self.pending.append(Durable(seq, clean, meta_of(clean)))
            self.last_seq = seq
        return seq

    # ---- fan-out --------------------------------------------------------------------------

    def discard(self) -> None:
        """The transaction was rolled back: nothing of it may be sent."""
        self.pending.clear()
        self.positions = None

    def publish(self, arrived_at: float = 0.0) -> int:
        """Hand the committed messages and the tick's positions to every client.

        `arrived_at`: wall time the oldest gateway frame behind them arrived (metrics)."""
        pending, self.pending = self.pending, []
        now = time.monotonic()
        for durable in pending:
            durable.published_at, durable.arrived_at = now, arrived_at
            for listener in self.listeners:
                listener(durable)
        if pending:
            self._offer(pending)
        fixes, self.positions = self.positions, None
        if fixes is not None and pending and self.after_writers is not None:
            # Every client's alerts and events go out before anyone's positions frame is
            # even prepared: otherwise the last client's alert waits for the positions.
            self.after_writers(lambda: self._publish_positions(fixes, arrived_at))
        elif fixes is not None:
            self._publish_positions(fixes, arrived_at)
        depth = max((c.queue_depth for c in self.clients), default=0)
        self.metrics.queue_depth.set(depth)
        return len(pending)

    def _offer(self, pending: list[Durable]) -> None:
        """Each subscription's messages, chosen once and handed to each of its clients."""
        chosen: dict[Subscription, list[Durable]] = {}
        last_seq = pending[-1].seq
        for client in list(self.clients):
            sub = client.subscription
            if sub is None:
                continue
            wanted = chosen.get(sub)
            if wanted is None:
                wanted = chosen[sub] = [d for d in pending if sub.wants(d.meta, self.group_of)]
            client.offer(wanted, last_seq)

    def _publish_positions(self, fixes: PositionBatch, arrived_at: float) -> None:
        positions = PositionFrame(newest_per_tag(fixes), tuple(self._tag_ids()), self.level_ids)
        self._positions_turn += 1
        self._hand_positions(self._positions_for(positions, arrived_at), self._positions_turn)

    def _hand_positions(self, handed: list[tuple[Any, Outgoing]], turn: int) -> None:
        """Hand positions to a group of clients, the rest at the loop's next turn."""
        if turn != self._positions_turn:
            return  # a newer tick's positions went to every client: latest wins
        group = handed if self.after_writers is None else handed[:POSITIONS_PER_TURN]
        for client, outgoing in group:
            client.offer_positions(outgoing)
        rest = handed[len(group) :]
        if rest and self.after_writers is not None:
            self.after_writers(lambda: self._hand_positions(rest, turn))

    def _positions_for(
        self, positions: PositionFrame, arrived_at: float
    ) -> list[tuple[Any, Outgoing]]:
        """Each client's positions frame (encoded once per view), clients with none left out."""
        cache: dict[tuple[Any, ...], tuple[bytes | str, int]] = {}
        now = time.monotonic()
        groups: Any = None  # each fix's group, looked up once when a view filters by group
        handed = []
        for client in list(self.clients):
            sub = client.subscription
            if sub is None or not sub.wants(Meta("positions"), self.group_of):
                continue
            view, f = sub.view, sub.filters
            key = (view.role == "teacher", view.groups, f.levels, f.groups, client.binary)
            if key not in cache:
                if groups is None and (key[0] or key[3]):
                    groups = positions.groups(self.group_of)
                cache[key] = self._positions_frame(positions, groups, key, client.binary)
            frame, rows = cache[key]
            if rows:
                handed.append((client, Outgoing(frame, "positions", rows, now, arrived_at)))
        return handed

    def _positions_frame(
        self, positions: PositionFrame, groups: Any, key: tuple[Any, ...], binary: bool
    ) -> tuple[bytes | str, int]:
        teacher, teacher_groups, levels, wanted_groups, _ = key
        b = positions.batch
        mask = np.ones(len(b), bool)
        if teacher:
            mask &= np.isin(groups, list(teacher_groups))
        if wanted_groups:
            mask &= np.isin(groups, list(wanted_groups))
        if levels:
            level_codes = [i for i, lv in enumerate(self.level_ids) if lv in levels]
            mask &= np.isin(b.level, level_codes)
        body = {"type": "positions", "seq": self.last_seq, **positions.rows(mask)}
        if self.training:
            body["training"] = True
        return encode(body, binary), int(mask.sum())

    def read_after(self, seq: int, limit: int) -> list[Durable]:
        """Stored messages after `seq` (a client catching up)."""
        return [Durable.from_log(row) for row in feed_log.after(self.conn, seq, limit)]

    def restore_alert_tags(self, bodies: Iterable[str]) -> None:
        """Which student each stored alert is about (records of acks name the alert only)."""
        for body in bodies:
            record = json.loads(body)
            self.alert_tag[str(record["id"])] = str(record["tag"])
