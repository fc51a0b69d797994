"""The SimPy campus: people as processes walking their day, one radio process for all badges.

    sim = CampusSim(world, scenario)
    for item in sim.feed():          # Readings every tick, Commands when they happen
        ...
        truth = sim.truth.take()     # the segments walked since the last take

Each person is a process (a generator yielding SimPy events) that follows its visits
(simulator/day_plan.py): it walks straight lines between the ports of the walk graph,
queues at doors and stairs (each passage lets `capacity` persons through per second),
and on the fire alarm is interrupted, waits a pre-movement delay and walks to the
nearest muster point. What a person does is written, as it happens, to two places:
the truth log (every segment) and the motion arrays the radio reads. The radio is one
periodic process: every tick it interpolates every badge's position at each of its
advertisements and samples the readers in one numba pass (simulator/radio.py), so the
number of SimPy events grows with people's decisions, not with readings.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from engine.batches import ReadingBatch
from engine.schedule import Timetable
from geometry.errors import ConfigError
from geometry.model import Floorplan, ZoneKind
from simulator.day_plan import (
    OUTSIDE,
    Places,
    Visit,
    group_slots,
    staff_plan,
    student_plan,
    survey_plan,
)
from simulator.feed import Command, FeedItem, Readings
from simulator.population import Badge, Person
from simulator.radio import (
    HEADING,
    LEVEL,
    MOTION_COLUMNS,
    T0,
    T1,
    X0,
    X1,
    Y0,
    Y1,
    build_reader_table,
    hear_step,
)
from simulator.scenario import Scenario
from simulator.truth import SegmentLog
from simulator.walk_graph import WalkGraph

#: A SimPy process body: yields events, returns nothing.
Proc = Generator[simpy.Event, Any, None]


@dataclass(frozen=True, slots=True)
class World:
    """What a simulation runs on: the plan, its walk graph, timetable and people."""

    floorplan: Floorplan
    graph: WalkGraph
    timetable: Timetable | None
    people: tuple[Person, ...]
    day_epoch: float  # local midnight of the scenario's date, epoch seconds


def _tick_seed(seed: int, tick: int) -> int:
    """The radio's seed for one tick: independent of every other tick's draws."""
    return int(np.random.SeedSequence([seed, 7, tick]).generate_state(1)[0])


class CampusSim:
    """One simulated day (see the module docstring)."""

    def __init__(self, world: World, scenario: Scenario) -> None:
        self.world, self.scenario = world, scenario
        self.graph = world.graph
        self.people = world.people
        self.tag_ids = tuple(p.tag for p in self.people)
        n = len(self.people)
        self.t_start = world.day_epoch + scenario.start_s
        self.t_end = self.t_start + scenario.duration_s
        self.env = simpy.Environment(initial_time=self.t_start)
        self.truth = SegmentLog()
        self.where = np.zeros((n, MOTION_COLUMNS))  # the person: truth
        self.motion = np.zeros((n, MOTION_COLUMNS))  # the badge: what the radio hears
        self.previous = np.zeros((n, MOTION_COLUMNS))
        self.zone = np.full(n, OUTSIDE, dtype=np.int64)
        self.transmitting = np.zeros(n, dtype=np.bool_)
        self.locked = np.zeros(n, dtype=np.bool_)
        self.rngs = [np.random.default_rng([scenario.seed, 2, i]) for i in range(n)]
        self.phase = np.random.default_rng([scenario.seed, 3]).uniform(
            0, scenario.radio.interval_s, n
        )
        self.reader_up = np.ones(len(world.floorplan.readers), dtype=np.bool_)
        self.table = build_reader_table(world.floorplan, scenario.radio)
        self.places = Places.of(self.graph)
        self.entrance = self._entrance()
        self.musters = self.graph.zones_of_kind(ZoneKind.MUSTER_POINT)
        self.next_free = np.zeros(len(self.graph.ports))
        self.evacuating = False
        self.all_clear = self.env.event()
        self._muster_of: dict[int, int] = {}
        self._out: list[FeedItem] = []
        self.plans = self._plans()
        self.procs = [self.env.process(self._life(i)) for i in range(n)]
        self.env.process(self._radio())
        self._check_events()
        for event in scenario.events:
            self.env.process(self._event(world.day_epoch + event.at_s, event.type, event.reader))

    # ---- setup -------------------------------------------------------------------------------

    def _entrance(self) -> int:
        """The port people arrive and leave through."""
        ports = self.graph.ports
        named = self.scenario.population.entrance
        if named:
            for p, port in enumerate(ports):
                if port.id == named:
                    return p
            raise ConfigError(
                f"{self.scenario.source}: population.entrance: no opening {named!r}; "
                "use an exit id of the plan"
            )
        street = [p for p, port in enumerate(ports) if port.exit and len(port.zones) == 1]
        exits = street or [p for p, port in enumerate(ports) if port.exit]
        if not exits:
            raise ConfigError(
                f"{self.scenario.source}: the plan has no exit to arrive through; "
                "add an exit opening"
            )
        return exits[0]

    def _check_events(self) -> None:
        """Every reader an event names exists; a fire alarm has somewhere to muster."""
        ids = {r.id for r in self.world.floorplan.readers}
        for k, event in enumerate(self.scenario.events):
            where = f"{self.scenario.source}: events[{k}]"
            if event.reader and event.reader not in ids:
                raise ConfigError(
                    f"{where}.reader: unknown reader {event.reader!r}; use a reader id of the plan"
                )
            if event.type == "fire_alarm" and not self.musters:
                raise ConfigError(
                    f"{where}: a fire alarm needs a muster_point zone in the plan; add one"
                )

    def _plans(self) -> list[list[Visit]]:
        groups = sorted({p.group for p in self.people if not p.staff})
        slots = group_slots(
            self.graph, self.world.timetable, groups, self.world.day_epoch, self.places
        )
        day = [s for g in slots.values() for s in g]
        first = min((s.start for s in day), default=self.world.day_epoch + 9 * 3600)
        last = max((s.end for s in day), default=self.world.day_epoch + 15 * 3600)
        plans: list[list[Visit]] = []
        surveyors = [i for i, p in enumerate(self.people) if p.staff and not p.absent]
        for i, person in enumerate(self.people):
            rng = self.rngs[i]
            if person.absent:
                plans.append([])
            elif person.staff and self.scenario.survey.stop_s > 0:
                plans.append(self._survey_plan(surveyors.index(i), len(surveyors), person))
            elif person.staff:
                plans.append(staff_plan(first, last, self.places, rng))
            else:
                plans.append(
                    student_plan(
                        person,
                        slots.get(person.group, []),
                        self.places,
                        self.graph,
                        self.scenario.behaviour,
                        rng,
                    )
                )
        return plans

    def _survey_plan(self, k: int, surveyors: int, person: Person) -> list[Visit]:
        """Surveyor k of n walks every n-th walkable zone, from the scenario's start."""
        zones = sorted(self.graph.reachable)[k::surveyors]
        return survey_plan(self.t_start, zones, self.scenario.survey, self.graph, person.speed_mps)

    # ---- output ------------------------------------------------------------------------------

    def feed(self) -> Iterator[FeedItem]:
        """Readings tick by tick and commands as they happen, in time order, to the end."""
        tick = self.scenario.tick_s
        t = self.t_start
        while t < self.t_end - 1e-9:
            t = min(t + tick, self.t_end)
            # Half a tick past the tick's end: the radio's step at t has run, the next not.
            self.env.run(until=t + tick / 2)
            items, self._out = self._out, []
            items.sort(key=lambda it: (it.t1, 0) if isinstance(it, Readings) else (it.t, 1))
            yield from items

    def _radio(self) -> Proc:
        tick = 0
        while True:
            t0 = self.env.now
            yield self.env.timeout(
                min(self.scenario.tick_s, self.t_end - t0) or self.scenario.tick_s
            )
            heard = hear_step(
                self.table,
                self.scenario.radio,
                (self.motion, self.previous),
                (self.transmitting, self.phase),
                (t0, self.env.now),
                self.reader_up,
                _tick_seed(self.scenario.seed, tick),
            )
            batch = ReadingBatch(heard.t, heard.badge, heard.reader, heard.rssi)
            self._out.append(Readings(t0, self.env.now, batch, self.tag_ids))
            tick += 1

    def _event(self, at: float, kind: str, reader: str) -> Proc:
        if at < self.env.now:
            return
        yield self.env.timeout(at - self.env.now)
        if kind == "fire_alarm":
            self._alarm(at)
        elif kind == "all_clear":
            self.evacuating = False
            if not self.all_clear.triggered:
                self.all_clear.succeed()
            self._out.append(
                Command(at, "end_evacuation", {"t": at, "reason": "all clear (simulated)"})
            )
        else:
            ids = [r.id for r in self.world.floorplan.readers]
            self.reader_up[ids.index(reader)] = kind == "reader_recovery"

    def _alarm(self, at: float) -> None:
        self.evacuating = True
        self.all_clear = self.env.event()
        mode = self.scenario.evacuation.mode
        self._out.append(
            Command(
                at, "start_evacuation", {"t": at, "mode": mode, "reason": "fire alarm (simulated)"}
            )
        )
        for proc in self.procs:
            if proc.is_alive:
                proc.interrupt("fire alarm")

    # ---- a person ----------------------------------------------------------------------------

    def _life(self, i: int) -> Proc:
        self._place_at_start(i)
        while True:
            try:
                if self.evacuating:
                    yield from self._evacuate(i)
                    continue
                yield from self._follow(i)
                return
            except simpy.Interrupt:
                self._halt(i)

    def _current_visit(self, i: int) -> int:
        """Index of the last visit due by now (-1: none yet)."""
        now = self.env.now
        k = -1
        for j, v in enumerate(self.plans[i]):
            if v.t > now:
                break
            k = j
        return k

    def _place_at_start(self, i: int) -> None:
        k = self._current_visit(i)
        if k < 0 or self.plans[i][k].zone == OUTSIDE:
            return
        zone = self.plans[i][k].zone
        x, y = self.graph.random_spot(zone, self.rngs[i])
        self.zone[i] = zone
        self._stand(i, x, y, self.graph.zone_level(zone), zone)
        self.transmitting[i] = self.people[i].badge != Badge.DEAD
        if self.people[i].badge == Badge.LOCKER:
            self.locked[i] = True

    def _follow(self, i: int) -> Proc:
        plan = self.plans[i]
        k = self._current_visit(i)
        if k >= 0 and plan[k].zone != self.zone[i]:
            yield from self._go(i, plan[k])
        for visit in plan[k + 1 :]:
            if visit.t > self.env.now:
                yield self.env.timeout(visit.t - self.env.now)
            yield from self._go(i, visit)

    def _evacuate(self, i: int) -> Proc:
        rng, spec = self.rngs[i], self.scenario.evacuation
        if self.zone[i] != OUTSIDE and rng.random() >= spec.straggler_rate:
            delay = float(
                spec.pre_movement_s * math.exp(spec.pre_movement_spread * rng.standard_normal())
            )
            yield self.env.timeout(delay)
            muster = self._muster_for(int(self.zone[i]))
            yield from self._go(i, Visit(self.env.now, muster, "muster"))
        yield self.all_clear

    def _muster_for(self, zone: int) -> int:
        if zone not in self._muster_of:
            self._muster_of[zone] = min(
                self.musters, key=lambda m: (self.graph.distance(zone, m), m)
            )
        return self._muster_of[zone]

    # ---- movement ----------------------------------------------------------------------------

    def _go(self, i: int, visit: Visit) -> Proc:
        """Walk from wherever person i is to a spot in the visit's zone (or off campus)."""
        graph = self.graph
        entrance = graph.ports[self.entrance]
        if self.zone[i] == OUTSIDE:
            if visit.zone == OUTSIDE:
                return
            ox, oy = self._outside_point()
            self._stand(i, ox, oy, entrance.level, OUTSIDE)
            self.transmitting[i] = self.people[i].badge != Badge.DEAD
            yield from self._walk(i, entrance.x, entrance.y, entrance.level)
            yield from self._pass(i, self.entrance)
            self.zone[i] = entrance.zones[0]
        goal = visit.zone if visit.zone != OUTSIDE else entrance.zones[0]
        if visit.reason == "muster":
            spot = graph.gathering_spot(goal, self.rngs[i])
        else:
            spot = graph.random_spot(goal, self.rngs[i])
        for step in graph.steps(int(self.zone[i]), goal, spot):
            if step.climb:
                yield from self._climb(i, step.x, step.y, step.level)
            else:
                yield from self._walk(i, step.x, step.y, step.level)
            if step.port >= 0:
                yield from self._pass(i, step.port)
            self.zone[i] = step.zone
        if visit.zone == OUTSIDE:
            yield from self._walk(i, entrance.x, entrance.y, entrance.level)
            yield from self._pass(i, self.entrance)
            self.zone[i] = OUTSIDE
            ox, oy = self._outside_point()
            yield from self._walk(i, ox, oy, entrance.level)
            self.transmitting[i] = False
        elif visit.reason == "arrive" and self.people[i].badge == Badge.LOCKER:
            self.locked[i] = True

    def _outside_point(self) -> tuple[float, float]:
        port = self.graph.ports[self.entrance]
        opening = next(o for o in self.world.floorplan.openings if o.id == port.id)
        p = self.graph.outside_point(opening, self.graph.zones[port.zones[0]])
        return float(p.x), float(p.y)

    def _position(self, i: int) -> tuple[float, float]:
        row = self.where[i]
        span = row[T1] - row[T0]
        f = 1.0 if span <= 0 else min(max((self.env.now - row[T0]) / span, 0.0), 1.0)
        return row[X0] + (row[X1] - row[X0]) * f, row[Y0] + (row[Y1] - row[Y0]) * f

    def _segment(
        self, i: int, t1: float, to: tuple[float, float], level: int, heading: float
    ) -> None:
        """Person i goes from here to `to` by t1 (the truth; the badge too unless locked)."""
        x0, y0 = self._position(i)
        row = (self.env.now, t1, x0, y0, to[0], to[1], heading, float(level))
        self.where[i] = row
        self.truth.add(i, self.env.now, t1, x0, y0, to[0], to[1], level, int(self.zone[i]))
        if not self.locked[i]:
            self.previous[i] = self.motion[i]
            self.motion[i] = row

    def _stand(self, i: int, x: float, y: float, level: int, zone: int) -> None:
        """Put person i at (x, y) at once (a start position), facing a random way."""
        self.zone[i] = zone
        row = (
            self.env.now,
            self.env.now,
            x,
            y,
            x,
            y,
            self.rngs[i].uniform(-math.pi, math.pi),
            float(level),
        )
        self.where[i] = row
        self.truth.add(i, self.env.now, self.env.now, x, y, x, y, level, zone)
        if not self.locked[i]:
            self.previous[i] = row
            self.motion[i] = row

    def _halt(self, i: int) -> None:
        """Stop where one is (an interrupted walk)."""
        x, y = self._position(i)
        self._segment(
            i, self.env.now, (x, y), int(self.where[i][LEVEL]), float(self.where[i][HEADING])
        )

    def _walk(self, i: int, x: float, y: float, level: int) -> Proc:
        x0, y0 = self._position(i)
        d = math.hypot(x - x0, y - y0)
        heading = math.atan2(y - y0, x - x0) if d > 0 else float(self.where[i][HEADING])
        duration = d / self.people[i].speed_mps
        self._segment(i, self.env.now + duration, (x, y), level, heading)
        if duration > 0:
            yield self.env.timeout(duration)

    def _climb(self, i: int, x: float, y: float, level: int) -> Proc:
        """A storey on the stairs: half the time on the floor left, half on the one reached."""
        half = self.graph.flow.climb_s / 2
        here = self._position(i)
        heading = float(self.where[i][HEADING])
        self._segment(i, self.env.now + half, here, int(self.where[i][LEVEL]), heading)
        yield self.env.timeout(half)
        self.where[i][X1], self.where[i][Y1] = x, y
        self._segment(i, self.env.now + half, (x, y), level, heading)
        yield self.env.timeout(half)

    def _pass(self, i: int, port: int) -> Proc:
        """Through a door or onto the stairs: wait one's turn when the passage is full."""
        capacity = self.graph.ports[port].capacity_pps
        if capacity <= 0:
            return
        now = self.env.now
        start = max(now, self.next_free[port])
        self.next_free[port] = start + 1.0 / capacity
        if start > now:
            x, y = self._position(i)
            self._segment(
                i, start, (x, y), int(self.where[i][LEVEL]), float(self.where[i][HEADING])
            )
            yield self.env.timeout(start - now)


def build_world(
    floorplan: Floorplan,
    timetable: Timetable | None,
    people: tuple[Person, ...],
    scenario: Scenario,
) -> World:
    """The world of a scenario: its walk graph and the local midnight of its date."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    zone = scenario.timezone or (timetable.calendar.timezone if timetable is not None else "UTC")
    midnight = dt.datetime(
        scenario.date.year, scenario.date.month, scenario.date.day, tzinfo=ZoneInfo(zone)
    )
    return World(floorplan, WalkGraph(floorplan), timetable, people, midnight.timestamp())
