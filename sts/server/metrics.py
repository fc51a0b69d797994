"""The server's Prometheus metrics, in their own registry (one per server, tests run several).

Labels are bounded: gateways are tokens' names, readers the floorplan's (an unknown
reader id is kept as sent, up to `MAX_UNKNOWN` distinct ones, then `(other)`),
reasons and roles fixed lists. No label ever holds a student id.
"""

from __future__ import annotations

from typing import NamedTuple

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
#: Finer below 1 ms: the server's own stages are measured in fractions of a millisecond.
STAGE_BUCKETS = (0.0001, 0.0002, 0.0005, *LATENCY_BUCKETS)


class SentMetrics(NamedTuple):
    """The children of the send metrics for one message type."""

    messages: Counter
    publish_to_socket: Histogram
    arrival_to_socket: Histogram


class Metrics:
    """Every metric the server exports (names in docs/protocol.md, Observability)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._sent: dict[str, SentMetrics] = {}
        self._events: dict[str, Counter] = {}
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, resident memory
        self._declare_input(self.registry)
        self._declare_output(self.registry)
        self._declare_clients(self.registry)
        self._declare_latency(self.registry)

    def _declare_input(self, r: CollectorRegistry) -> None:
        """What comes in: readings, and what is rejected of them and of frames."""
        self.readings_in = Counter(
            "sts_readings_in", "Readings received, by gateway", ["gateway"], registry=r
        )
        self.readings_rejected = Counter(
            "sts_readings_rejected",
            "Readings rejected, by gateway, reader and reason",
            ["gateway", "reader", "reason"],
            registry=r,
        )
        self.engine_rejected = Counter(
            "sts_engine_rejected", "Rows the engine rejected, by reason", ["reason"], registry=r
        )
        self.frames_rejected = Counter(
            "sts_frames_rejected",
            "Frames or messages rejected whole, by endpoint and error code",
            ["endpoint", "code"],
            registry=r,
        )

    def _declare_output(self, r: CollectorRegistry) -> None:
        """What the engine makes of it: fixes, zone events, alert changes."""
        self.fixes = Counter("sts_fixes", "Positions computed", registry=r)
        self.events = Counter("sts_events", "Zone events, by kind", ["kind"], registry=r)
        self.alerts = Counter(
            "sts_alerts", "Alert changes, by severity and state", ["severity", "state"], registry=r
        )

    def _declare_clients(self, r: CollectorRegistry) -> None:
        """The feed's clients: connections, queues, sign-ins and what is sent to them."""
        self.clients = Gauge("sts_clients", "Connected feed clients, by role", ["role"], registry=r)
        self.queue_depth = Gauge(
            "sts_queue_depth_max", "Largest per-client queue of durable messages", registry=r
        )
        self.catching_up = Gauge(
            "sts_clients_catching_up", "Clients reading from the resume buffer", registry=r
        )
        self.evictions = Counter(
            "sts_evictions",
            "Feed clients closed by the server, by close code",
            ["code"],
            registry=r,
        )
        self.vanished = Counter(
            "sts_connections_vanished",
            "Connections that ended without a close handshake (a client gone mid-frame)",
            ["endpoint"],
            registry=r,
        )
        self.sign_ins = Counter(
            "sts_sign_ins", "Sign-in attempts, by outcome", ["outcome"], registry=r
        )
        self.messages_sent = Counter(
            "sts_messages_sent", "Feed messages sent, by type", ["type"], registry=r
        )
        self.position_updates = Counter(
            "sts_position_updates_sent", "Position rows sent across clients", registry=r
        )

    def _declare_latency(self, r: CollectorRegistry) -> None:
        """Durations: a tick, and a reading's way from its frame's arrival to the socket."""
        self.tick_seconds = Histogram(
            "sts_tick_seconds",
            "Duration of one tick (engine, store, hand-over to the writers)",
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.latency = Histogram(
            "sts_reading_to_send_seconds",
            "From a frame's arrival to its tick's messages handed to the clients' writers",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.arrival_to_engine = Histogram(
            "sts_arrival_to_engine_seconds",
            "From a frame's arrival to the start of the tick that gives it to the engine",
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.publish_to_socket = Histogram(
            "sts_publish_to_socket_seconds",
            "From a message handed to a client's writer to its frame written to the socket",
            ["type"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.arrival_to_socket = Histogram(
            "sts_arrival_to_socket_seconds",
            "From the arrival of the oldest frame behind a message to its frame on the socket",
            ["type"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )

    def event(self, kind: str) -> Counter:
        """The counter of one event kind (labelled once: every event passes here)."""
        out = self._events.get(kind)
        if out is None:
            out = self._events[kind] = self.events.labels(kind)
        return out

    def sent(self, kind: str) -> SentMetrics:
        """The metrics of one message type's sends (labelled once: sends are the hot path)."""
        out = self._sent.get(kind)
        if out is None:
            out = self._sent[kind] = SentMetrics(
                self.messages_sent.labels(kind),
                self.publish_to_socket.labels(kind),
                self.arrival_to_socket.labels(kind),
            )
        return out

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
