"""The server: a site's engine on the hub, its store, feed, ingest and HTTP, on one port.

`Server(options)` loads the site (refusing to start without a roster: no roster, no
consent), opens the store, restores the alerts' lifecycle from it (open alerts fold
new triggers, resolved ones keep their cooldown; zone state is rebuilt from the next
readings), queues the journaled frames the engine had not yet processed, and `run()`
serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import signal
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.server import ServerConnection, serve

from engine.batches import ReadingBatch
from engine.engine import Engine
from engine.roster import Roster
from geometry.errors import ConfigError
from store import feed_log, ingest_journal
from store.alert_records import alerts_from_bodies
from store.db import db_path, open_store, transaction
from store.tokens import TokenInfo, invalid_ids
from store.wal_checkpoints import Checkpointer, defer_checkpoints
from sts.data_option import default_data
from sts.hub import Hub
from sts.retention_policy import load_policy
from sts.serve_config import ServeConfig
from sts.server.auth import Authenticator, RateLimiter
from sts.server.consent_watch import ConsentWatch
from sts.server.dashboard_api import DashboardApi
from sts.server.feed import Feed
from sts.server.floorplan_geojson import floorplan_geojson
from sts.server.http_routes import HttpRoutes
from sts.server.ingest import IngestDesk
from sts.server.metrics import Metrics
from sts.server.retention_job import retention_forever
from sts.server.sessions import FeedEndpoint, IngestEndpoint
from sts.server.tick_loop import TickLoop
from sts.server.training import check_mode, data_folder, run_training, training_site
from sts.server.webhooks import senders
from sts.simulation import Prepared
from sts.site import Site, SiteFiles, build_engine, load_site, nominal_radio
from transports.feed_protocol import SUBPROTOCOLS, CloseCode
from transports.ingest_codec import FrameError, decode_frame
from transports.mqtt_ingest import MqttSettings, MqttSource

log = logging.getLogger("sts.serve")

#: How often stored messages past the horizon are pruned, s.
PRUNE_EVERY_S = 60.0
#: How often the WAL is copied into the database, off the event loop, s.
CHECKPOINT_EVERY_S = 1.0


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What `sts serve` was asked for."""

    site: Path
    host: str = "127.0.0.1"
    port: int = 8765
    data: Path = field(default_factory=default_data)
    tick_s: float = 1.0
    config: ServeConfig = field(default_factory=ServeConfig)
    training: Path | None = None  # a scenario: serve a simulated school (training.py)
    speed: float = 1.0  # the simulated school's pace in training, x real time
    calibrated: bool = True  # False: the plan's nominal reader model (the scripted demo)


def is_loopback(host: str) -> bool:
    """Whether `host` only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Server:
    """One site's live service (see the module docstring)."""

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        site, roster = self._load_site(options)
        engine = build_engine(site)
        self._open_store(options)
        self.metrics = Metrics()
        self._start_core(site, roster, engine)
        self._start_endpoints(site, roster)
        self._replay_journal()
        self._stop: asyncio.Event | None = None

    def _load_site(self, options: ServeOptions) -> tuple[Site, Roster]:
        """The site (a training scenario's simulated campus, or the campus) and its roster,
        which it must have; its retention policy checked, its kernels compiled."""
        self.training: Prepared | None = None
        if options.training is not None:
            site, self.training = training_site(options.training)
        else:
            files = SiteFiles.campus(options.site)
            site = load_site(files if options.calibrated else nominal_radio(files))
        # no written retention policy, no service
        self.policy = load_policy(Path(site.files.floorplan))
        if site.roster is None:
            raise ConfigError(
                f"{options.site}: no roster.csv; the server processes only consented badges, "
                "so it needs the roster (student_id,tag,name,group,consent)"
            )
        warm_up(site)
        return site, site.roster

    def _open_store(self, options: ServeOptions) -> None:
        """The store of the data folder (a training one in training), its mode checked."""
        data = data_folder(options.data, options.training is not None)
        self.conn = open_store(data)
        check_mode(self.conn, options.training is not None, data)
        defer_checkpoints(self.conn)  # the commits of ticks and frames never copy the WAL
        self.checkpointer = Checkpointer(db_path(data))

    def _start_core(self, site: Site, roster: Roster, engine: Engine) -> None:
        """The feed, the engine's hub with its alerts restored, the ingest desk."""
        self.feed = Feed(
            self.conn,
            group_of=roster.tag_groups(consented_only=False),
            level_ids=tuple(lv.id for lv in site.floorplan.levels),
            tag_ids=lambda: engine.tag_ids,
            metrics=self.metrics,
        )
        self.feed.training = self.options.training is not None
        self.hub = Hub(engine, [self.feed])
        self._restore_alerts()
        reader_ids = tuple(r.id for r in site.floorplan.readers)
        self.desk = IngestDesk(reader_ids, engine.gate, on_reject=self._count_rejected)

    def _start_endpoints(self, site: Site, roster: Roster) -> None:
        """Sign-in, the tick loop, the consent watch, the ingest and feed endpoints, the
        HTTP routes with the dashboard's API, the webhooks."""
        config = self.options.config
        self.auth = Authenticator(
            self.conn,
            config.feed.ticket_ttl_s,
            RateLimiter(config.feed.max_failures, config.feed.failure_window_s),
        )
        self.ticks = TickLoop(
            hub=self.hub,
            feed=self.feed,
            desk=self.desk,
            conn=self.conn,
            metrics=self.metrics,
            idle_s=config.ingest.idle_s,
        )
        self.consent = ConsentWatch(self.conn, self.hub, self.ticks.now)
        self.consent.start(roster, time.time())
        gateways: dict[int, TokenInfo] = {}
        self.ingest = IngestEndpoint(self.desk, config.ingest, self.metrics, self.conn, gateways)
        self._arrived: asyncio.Event | None = None
        self.ingest.on_queued = self._wake
        self.feed_endpoint = FeedEndpoint(
            self.feed, self.hub, self.auth, config.feed, self.metrics, self.ticks.now, self.conn
        )
        self.routes = HttpRoutes(
            self.auth,
            self.metrics,
            self._origins(),
            json.dumps(floorplan_geojson(site.floorplan)).encode(),
            self.health,
            gateways,
        )
        self.routes.api = DashboardApi(
            self.auth,
            self.metrics,
            self.conn,
            self.hub,
            self.feed,
            self.ticks.now,
            roster,
            site.timetable,
            site.floorplan.site.name,
        )
        self.webhooks = senders(config.webhooks, self.conn, self.metrics.registry)
        self.feed.listeners += [sender.notify for sender in self.webhooks]

    def _origins(self) -> frozenset[str]:
        configured = self.options.config.feed.origins
        if configured:
            return frozenset(configured)
        port = self.options.port
        hosts = {self.options.host, "127.0.0.1", "localhost"}
        return frozenset(f"{scheme}://{h}:{port}" for h in hosts for scheme in ("http", "https"))

    def _count_rejected(self, gateway: str, reader: str, why: str, n: int) -> None:
        self.metrics.readings_rejected.labels(gateway, reader, why).inc(n)

    def _restore_alerts(self) -> None:
        bodies = feed_log.alert_bodies(self.conn)
        self.feed.restore_alert_tags(bodies)
        book = getattr(self.hub.engine.rules, "book", None)
        if book is None:
            return
        for alert in alerts_from_bodies(bodies):
            book.restore(alert)
        log.info("restored %d alerts from the store", len(bodies))

    def _replay_journal(self) -> None:
        frames = ingest_journal.unprocessed(self.conn)
        for jf in frames:
            try:
                frame = decode_frame(jf.payload, max_rows=10**9)
            except FrameError:
                continue
            _, pending = self.desk.accept(jf.gateway, frame)
            self.desk.queue(pending, jf.id, jf.received_at)
        if frames:
            log.info(
                "%d journaled frames were not processed before the restart: queued", len(frames)
            )

    def health(self) -> dict[str, Any]:
        """The /healthz body: ready once the site is loaded and ticks run."""
        age = time.time() - self.ticks.last_tick_wall
        return {
            "ready": age < max(5.0, 5 * self.options.tick_s),
            "training": self.training is not None,
            "site": self.hub.engine.floorplan.site.id,
            "clients": len(self.feed.clients),
            "last_seq": self.feed.last_seq,
            "last_tick_age_s": round(age, 3),
        }

    # ---- the loops ---------------------------------------------------------------------------

    async def _tick_forever(self) -> None:
        tick_s = self.options.tick_s
        limits = self.options.config.feed
        next_at = time.monotonic()
        last_prune = 0.0
        while True:
            next_at += tick_s
            await self._process_arrivals_until(next_at)
            if time.monotonic() - next_at > tick_s:  # far behind: do not burst to catch up
                next_at = time.monotonic()
            self.ticks.tick()
            now = time.monotonic()
            for client in list(self.feed.clients):
                client.check(now, limits.slow_after_s, limits.client_timeout_s, limits.heartbeat_s)
            self.metrics.catching_up.set(sum(c.catching_up for c in self.feed.clients))
            if now - last_prune > PRUNE_EVERY_S:
                last_prune = now
                self._prune()

    async def _train(self, prepared: Prepared) -> None:
        await run_training(prepared, self.ingest.take, self.options.speed)

    def _wake(self) -> None:
        if self._arrived is not None:
            self._arrived.set()

    async def _process_arrivals_until(self, deadline: float) -> None:
        """Until the next tick is due, run the engine on frames soon after they arrive.

        Why not wait for the tick: a reading would sit up to a whole tick before the
        engine saw it. Frames already received when the loop gets to them (or within
        `batch_s`, when set) go in together, and frames arriving during a slow tick form
        the next batch, so under load the batches grow instead of the latency."""
        arrived = self._arrived
        batch_s = self.options.config.ingest.batch_s
        while (left := deadline - time.monotonic()) > 0:
            if arrived is None:
                await asyncio.sleep(left)
                return
            try:
                await asyncio.wait_for(arrived.wait(), left)
            except TimeoutError:
                return
            await asyncio.sleep(batch_s)
            arrived.clear()
            self.ticks.tick()

    def _prune(self) -> None:
        limits = self.options.config
        wall = time.time()
        with transaction(self.conn):
            feed_log.prune(
                self.conn,
                before_at=wall - limits.feed.horizon_s,
                keep_at_most=limits.feed.horizon_messages,
            )
            ingest_journal.prune(self.conn, wall - limits.ingest.journal_keep_s)

    async def _checkpoint_forever(self) -> None:
        while True:
            await asyncio.sleep(CHECKPOINT_EVERY_S)
            await asyncio.to_thread(self.checkpointer.run)

    async def _poll_revocations(self) -> None:
        while True:
            await asyncio.sleep(self.options.config.feed.revocation_poll_s)
            ids = {c.token_id for c in self.feed.clients}
            gone = invalid_ids(self.conn, ids, time.time())
            for client in list(self.feed.clients):
                if client.token_id in gone:
                    client.close(CloseCode.TOKEN_INVALID, "token revoked or expired")

    async def _handler(self, ws: ServerConnection) -> None:
        path = ws.request.path.split("?", 1)[0] if ws.request else ""
        if path == "/ingest":
            await self.ingest.session(ws)
        else:
            await self.feed_endpoint.session(ws)

    def _ssl(self) -> ssl.SSLContext | None:
        tls = self.options.config.tls
        if not tls.cert:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(tls.cert, tls.key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"tls.cert {tls.cert} / tls.key {tls.key}: cannot load ({exc}); "
                "give a PEM certificate and its key"
            ) from None
        return context

    async def run(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve until stopped (SIGINT, SIGTERM or `stop()`)."""
        opts = self.options
        limits = opts.config
        context = self._ssl()
        if context is None and not is_loopback(opts.host):
            print(
                f"sts serve: WARNING: listening on {opts.host} WITHOUT TLS: tokens, tickets "
                "and student data cross the network in clear. Set tls.cert and tls.key.",
                file=sys.stderr,
            )
        self._stop = asyncio.Event()
        self._arrived = asyncio.Event()
        loop = asyncio.get_running_loop()
        self.feed.after_writers = loop.call_soon
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)
        async with serve(
            self._handler,
            opts.host,
            opts.port,
            process_request=self.routes,
            select_subprotocol=_select_subprotocol,
            max_size=max(limits.ingest.max_frame_bytes, limits.feed.max_message_bytes),
            ping_interval=None,  # heartbeats are the protocol's own (see FeedClient.check)
            max_queue=16,
            # Per-message deflate compresses every frame once per connection, so one
            # positions frame for 100 subscribers would be compressed 100 times. Frames
            # are encoded once per view and sent to each of its clients as they are.
            compression=None,
            ssl=context,
            server_header="sts",
        ) as server:
            self.ticks.tick()
            mqtt = self._start_mqtt(loop)
            tasks = [
                loop.create_task(self._tick_forever()),
                loop.create_task(self._poll_revocations()),
                loop.create_task(self._checkpoint_forever()),
                *(loop.create_task(sender.run()) for sender in self.webhooks),
                loop.create_task(self.consent.run(limits.feed.revocation_poll_s)),
                loop.create_task(retention_forever(self.conn, self.policy)),
            ]
            if self.training is not None:
                tasks.append(loop.create_task(self._train(self.training)))
            scheme = "wss" if context else "ws"
            port = server.sockets[0].getsockname()[1]
            url = f"{scheme}://{opts.host}:{port}"
            if self.training is not None:
                print(
                    f"sts serve: TRAINING: a simulated school ({opts.training}); nothing here "
                    f"is real; data in {data_folder(opts.data, True)}",
                    file=sys.stderr,
                )
            print(
                f"sts serve: listening on {url} (feed {url}/feed, ingest {url}/ingest)",
                file=sys.stderr,
                flush=True,
            )
            if on_ready is not None:
                on_ready(url)
            await self._stop.wait()
            for task in tasks:
                task.cancel()
            if mqtt is not None:
                mqtt.stop()
            for client in list(self.feed.clients):
                client.close(CloseCode.GOING_AWAY, "server shutting down; resume later")
        self.checkpointer.close()
        self.conn.close()

    def _start_mqtt(self, loop: asyncio.AbstractEventLoop) -> MqttSource | None:
        cfg = self.options.config.mqtt
        if not cfg.enabled:
            return None
        settings = MqttSettings(
            cfg.host, cfg.port, cfg.topic, cfg.gateway_level, cfg.qos, cfg.client_id
        )
        source = MqttSource(settings, self._mqtt_frame, loop)
        source.start()
        return source

    def _mqtt_frame(self, gateway: str, payload: bytes) -> dict[str, Any]:
        # JSON gateways publish text; everything else is msgpack.
        raw: bytes | str = payload
        if payload[:1] in (b"{", b"[", b" "):
            raw = payload.decode("utf-8", "replace")
        return self.ingest.take(f"mqtt:{gateway}", raw)

    def stop(self) -> None:
        """Ask `run()` to finish."""
        if self._stop is not None:
            self._stop.set()


def warm_up(site: Site) -> None:
    """Run a few seconds of readings through a throwaway engine: the numba kernels compile
    now, before the port opens, not during the first live tick."""
    engine = build_engine(site)
    readers = site.floorplan.readers[:4]
    tag = next((e.tag for e in site.roster.entries if e.consent), None) if site.roster else None
    if tag is None or not readers:
        return
    t = np.repeat(np.arange(5.0), len(readers)) + 1.0e9
    batch = ReadingBatch.from_arrays(
        t, np.zeros(len(t)), np.tile(np.arange(len(readers)), 5), np.full(len(t), -60.0)
    )
    engine.process(batch, (tag,))
    engine.flush()
    engine.advance(1.0e9 + 200.0)


def _select_subprotocol(ws: ServerConnection, offered: Any) -> Any:
    for name in offered:
        if name in SUBPROTOCOLS:
            return name
    return None
