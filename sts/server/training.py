"""Training mode: `sts serve --training SCENARIO` runs a simulated school into the server.

Staff practise acknowledging alerts and running a roll call on a school that does not
exist. Nothing of it mixes with real data: the store lives in `DATA/training/` (never
DATA itself), the store is marked as a training store when created and a real server
refuses to open it (and a training server a real one); every feed message carries
`"training": true`, and /healthz, the start-up banner and the logs say TRAINING.

The simulated readings go through the same ingest path as a gateway's (journal,
checks, counters), as gateway `training`, with the simulated day moved to start now
(at `--speed N` the data clock runs N times faster than the wall clock). Commands of
the scenario (a fire alarm) are not sent: in training, staff give them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from geometry.errors import ConfigError
from simulator.campus import CampusSim
from simulator.feed import Readings
from simulator.population import roster_of
from simulator.scenario import load_scenario
from store.db import get_state, set_state, transaction
from sts.simulation import Prepared, prepare
from sts.site import Site
from transports.ingest_codec import encode_columns

log = logging.getLogger("sts.serve.training")

#: The sub-folder of --data a training server keeps everything in.
TRAINING_FOLDER = "training"
GATEWAY = "training"


def data_folder(data: Path, training: bool) -> Path:
    """Where a server keeps its store: DATA, or DATA/training in training mode."""
    return data / TRAINING_FOLDER if training else data


def check_mode(conn: sqlite3.Connection, training: bool, folder: Path) -> None:
    """Mark a new store as real or training; refuse a store of the other kind."""
    wanted = "training" if training else "live"
    found = get_state(conn, "mode")
    if not found:
        with transaction(conn):
            set_state(conn, "mode", wanted)
        return
    if found != wanted:
        fix = "drop --training" if found == "live" else "serve it with --training SCENARIO"
        raise ConfigError(
            f"--data {folder}: this store holds {found.upper()} data and this server runs "
            f"{wanted.upper()}; the two never mix. Use another --data folder, or {fix}"
        )


def training_site(scenario_path: Path) -> tuple[Site, Prepared]:
    """The scenario's campus with the simulated floorplan and roster, and the prepared run."""
    prepared = prepare(load_scenario(scenario_path))
    world = prepared.world
    site = dataclasses.replace(
        prepared.campus, floorplan=world.floorplan, roster=roster_of(world.people)
    )
    return site, prepared


async def run_training(
    prepared: Prepared, take: Callable[[str, bytes], dict[str, Any]], speed: float
) -> None:
    """Feed the simulated day into `take` (the ingest path) at `speed` x real time."""
    world, scenario = prepared.world, prepared.scenario
    readers = tuple(r.id for r in world.floorplan.readers)
    t_start = world.day_epoch + scenario.start_s
    wall_start = time.time()
    log.info("TRAINING: the simulated school starts (%.0f x real time)", speed)
    for number, item in enumerate(CampusSim(world, scenario).feed()):
        if not isinstance(item, Readings):
            continue
        await asyncio.sleep(max(0.0, wall_start + (item.t1 - t_start) / speed - time.time()))
        if not len(item.batch):
            continue
        b = item.batch
        frame = encode_columns(
            f"training-{wall_start:.0f}-{number}",
            b.t + (wall_start - t_start),  # the simulated day starts now
            [item.tag_ids[c] for c in b.tag.tolist()],
            [readers[c] for c in b.reader.tolist()],
            b.rssi,
        )
        take(GATEWAY, frame)
    log.info("TRAINING: the simulated school day has ended")
