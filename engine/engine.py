"""The Engine facade: configuration in, batches and commands in, events and alerts out.

    readings --check--> consent gate --> Locator --> zone state machine --> rules --> alerts
    positions --check--> consent gate ------------^

Pure and deterministic: no I/O, no wall clock (time comes with the data and the
commands), the same configuration and input give the same output, byte for byte.

- `process(batch, tag_ids)`: a ReadingBatch whose `tag` codes index `tag_ids` (the table
  beside the batch; by default the one given last time). `process_positions` does the
  same for fixes (`sts track --positions`). `flush()` ends a readings stream.
- A malformed batch (columns of different lengths, a non-finite time, a row older
  than the newest time seen by more than the tolerance, a tag code outside its table;
  for fixes also non-finite x/y, bad uncertainty or level) raises `BatchRejectedError`
  with the reason, and the engine state is unchanged: every check runs before anything
  moves. Rows that are individually bad (unknown reader, rssi out of range) are the
  Locator's to reject and count; they are reported in `EngineOutput.rejected`.
- Commands: `add_zone`, `update_zone`, `remove_zone`, `advance(t)`, `withdraw_consent`,
  `grant_consent`, and pass-throughs to the rule set (`acknowledge`, `resolve`,
  `start_evacuation`, `mark_safe`, `end_evacuation`). Every call, batch or command,
  returns an `EngineOutput`; a command that changes state (everything but `advance`)
  puts a `ChangeRecord` (time, actor, reason, subject) in it, so a store can persist it
  and an audit log chain it whichever shell gave the command.
- Rules: any object with the `RuleEvaluator` methods (engine.rules.RuleSet). It may also
  have `alert_only_tags` (their events and positions are given to the rules but never
  output), `set_zones(zones)` (called when zones change) and `forget(tag)`. For an
  alert-only badge the engine's working state holds only what hysteresis needs (the
  last fix and the zones it is in, overwritten by each fix); nothing of it leaves the
  engine except as the evidence of an alert the rules raise.
- Positions in the output carry student indexes in `tag`; `tag_ids` names them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from engine.batches import TIME_MAX_S, TIME_MIN_S, BatchT, PositionBatch, ReadingBatch
from engine.consent import ConsentGate
from engine.events import Alert, AlertState, Evidence, ZoneEvent
from engine.records import SYSTEM, ChangeKind, ChangeRecord
from engine.rollcall import RollCallReport
from engine.roster import Consent, RosterEntry
from engine.zone_state import (
    BatchRejectedError,
    Hysteresis,
    ZoneStateMachine,
    check_time_order,
)
from geometry.errors import InputError, StsError
from geometry.model import Floorplan, ReaderCalibration, Zone
from geometry.zone_index import ZoneIndex

if TYPE_CHECKING:  # the Locator pulls in trilateration; a positions-only engine needs none
    from engine.locate import Locator, LocatorConfig


@runtime_checkable
class RuleEvaluator(Protocol):
    """What the Engine needs of a rule set (engine.rules.RuleSet implements it)."""

    def on_events(
        self, events: Sequence[ZoneEvent], positions: Mapping[str, Evidence] | None, t: float
    ) -> list[Alert]:
        """Alerts caused by a batch of zone events (in order), then by time up to t."""
        ...

    def on_tick(self, t: float) -> list[Alert]:
        """Alerts caused by time passing up to t."""
        ...


def system_resolutions(alerts: Sequence[Alert]) -> tuple[ChangeRecord, ...]:
    """A change record for every alert the system resolved on its own (a person did not)."""
    return tuple(
        ChangeRecord(a.t, ChangeKind.ALERT_RESOLVED, SYSTEM, a.id, a.resolution)
        for a in alerts
        if a.state is AlertState.RESOLVED and a.resolved_by == SYSTEM
    )


def rollcall_counts(report: RollCallReport) -> dict[str, int | str]:
    """The counts of a roll call, for the record of its end."""
    return {
        "mode": report.mode.value,
        "expected": report.expected,
        "accounted": report.accounted,
        "marked_safe": report.marked_safe,
        "unaccounted": report.unaccounted,
        "unknown": report.unknown,
    }


#: Rejection reasons the Engine counts itself (the Locator counts the readings' own).
TIME_RANGE = "time_out_of_range"
OUTSIDE_SITE = "outside_site"
#: How far beyond the zones and readers a fix may lie and still be taken as real, m.
SITE_MARGIN_M = 200.0


class NoRulesError(StsError):
    """A rule command was given to an engine configured without rules."""


@dataclass(frozen=True, slots=True)
class EngineOutput:
    """What one call (a batch or a command) produced; every Engine call returns one.

    `events` and `alerts` (each alert change a new value) in order, the fixes, the rows
    rejected by reason, the change records of commands (and of alerts the system
    resolved), and the roll call's report when the call concerned an evacuation.
    """

    events: tuple[ZoneEvent, ...] = ()
    alerts: tuple[Alert, ...] = ()
    positions: PositionBatch = field(default_factory=PositionBatch.empty)
    rejected: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    records: tuple[ChangeRecord, ...] = ()
    rollcall: RollCallReport | None = None


class LatestFixes(Mapping[str, Evidence]):
    """tag -> the student's last fix as evidence (age relative to t); built on demand.

    Alert-only badges are included: the rules read their position only to give an
    alert its evidence, and the engine never outputs it otherwise.
    """

    def __init__(self, engine: Engine, t: float) -> None:
        self._e = engine
        self._t = t

    def __getitem__(self, tag: str) -> Evidence:
        s = self._e.gate.student(tag)
        sm = self._e.zones
        if s is None or s >= sm.capacity or math.isnan(sm.last_t[s]):
            raise KeyError(tag)
        lv = int(sm.last_level[s])
        return Evidence(
            x=float(sm.last_x[s]),
            y=float(sm.last_y[s]),
            level=sm.index.level_ids[lv] if lv >= 0 else "",
            uncertainty_m=float(sm.last_u[s]),
            age_s=max(0.0, self._t - float(sm.last_t[s])),
        )

    def _students(self) -> list[str]:
        sm = self._e.zones
        n = min(sm.capacity, len(self._e.gate))
        has = np.flatnonzero(~np.isnan(sm.last_t[:n]) & self._e.gate.active[:n])
        return [self._e.gate.tags[int(i)] for i in has]

    def __iter__(self) -> Iterator[str]:
        return iter(self._students())

    def __len__(self) -> int:
        return len(self._students())


class Engine:
    """One site's real-time engine (see the module docstring)."""

    def __init__(
        self,
        floorplan: Floorplan,
        *,
        roster: Iterable[RosterEntry | Consent] | None = None,
        rules: RuleEvaluator | None = None,
        hysteresis: Hysteresis | None = None,
        locator: LocatorConfig | None = None,
        calibration: Mapping[str, ReaderCalibration] | None = None,
    ) -> None:
        self.floorplan = floorplan
        self.open_consent = roster is None  # development default: every tag consented
        self.gate = ConsentGate.open() if roster is None else ConsentGate(roster)
        self.rules = rules
        self.hysteresis = hysteresis or Hysteresis()
        self.index = ZoneIndex.from_floorplan(floorplan)
        self.zones = ZoneStateMachine(self.index, self.gate.tags, self.hysteresis)
        self._locator_config = locator
        self._calibration = calibration
        self._locator: Locator | None = None
        self.clock = -math.inf  # newest reading time accepted
        self._tag_ids: Sequence[str] = ()
        self.rejected_total: dict[str, int] = {}
        self._bounds: tuple[float, float, float, float] | None = None  # cached _site_bounds

    # ---- configuration views ------------------------------------------------------------

    @property
    def tag_ids(self) -> list[str]:
        """Student index -> tag (names the `tag` column of output positions)."""
        return self.gate.tags

    @property
    def alert_only_tags(self) -> frozenset[str]:
        """Tags whose events and positions go to the rules only (alert-only policy)."""
        tags: Iterable[str] = getattr(self.rules, "alert_only_tags", frozenset())
        return frozenset(tags)

    @property
    def locator(self) -> Locator:
        """The Locator, built on first use (a positions-only engine needs no readers)."""
        if self._locator is None:
            from engine.locate import Locator

            self._locator = Locator(self.floorplan, self._calibration, self._locator_config)
        return self._locator

    # ---- batches ---------------------------------------------------------------------------

    def _table(self, tag_ids: Sequence[str] | None) -> Sequence[str]:
        return self._tag_ids if tag_ids is None else tag_ids

    def _check_readings(self, batch: ReadingBatch, tag_ids: Sequence[str]) -> None:
        """Raise BatchRejectedError for a malformed readings batch; changes nothing."""
        n = len(batch.t)
        for name, a in (("tag", batch.tag), ("reader", batch.reader), ("rssi", batch.rssi)):
            if a.ndim != 1 or len(a) != n:
                raise BatchRejectedError(
                    f"reading batch: column {name!r} has {len(a)} rows, t has {n}; rejected whole"
                )
        if n == 0:
            return
        finite = np.isfinite(batch.t)
        if not finite.all():
            raise BatchRejectedError(
                f"reading batch: row {int(np.argmin(finite))}: t is not finite; rejected whole"
            )
        check_time_order("reading batch", batch.t, self.clock, self.hysteresis.tolerance_s)
        try:
            self.gate.check(batch.tag, tag_ids)
        except InputError as exc:
            raise BatchRejectedError(f"reading {exc}") from None

    def process(self, batch: ReadingBatch, tag_ids: Sequence[str] | None = None) -> EngineOutput:
        """Readings in (codes index `tag_ids`): positions, zone events and alerts out."""
        table = self._table(tag_ids)
        batch, out_of_range = self._in_time_window(batch)
        self._check_readings(batch, table)
        self._tag_ids = table
        if len(batch):
            self.clock = max(self.clock, float(batch.t.max()))
        before = self.gate.dropped
        admitted = self.gate.admit_readings(batch, table)
        rejected = {"no_consent": self.gate.dropped - before, TIME_RANGE: out_of_range}
        from engine.locate import REJECT_TEXT

        positions, bad = self.locator.process_with_report(admitted)
        for why, count in bad.counts().items():
            rejected[REJECT_TEXT[why]] = count
        return self._positions(positions, rejected)

    def flush(self) -> EngineOutput:
        """End of a readings stream: the positions (and what follows) not yet emitted."""
        if self._locator is None:
            return EngineOutput()
        return self._positions(self._locator.flush(), {})

    def process_positions(
        self, batch: PositionBatch, tag_ids: Sequence[str] | None = None
    ) -> EngineOutput:
        """Fixes in (codes index `tag_ids`): zone events and alerts out."""
        table = self._table(tag_ids)
        batch, out_of_range = self._in_time_window(batch)
        self.zones.check(batch, students=False)
        try:
            self.gate.check(batch.tag, table)
        except InputError as exc:
            raise BatchRejectedError(f"position {exc}") from None
        self._tag_ids = table
        inside = self._on_site(batch)
        outside = len(batch) - int(np.count_nonzero(inside))
        if outside:
            batch = batch.take(inside)
        before = self.gate.dropped
        admitted = self.gate.admit_positions(batch, table)
        rejected = {"no_consent": self.gate.dropped - before, TIME_RANGE: out_of_range}
        rejected[OUTSIDE_SITE] = outside
        return self._positions(admitted, rejected)

    def _in_time_window(self, batch: BatchT) -> tuple[BatchT, int]:
        """The rows whose time is a plausible epoch second (NaN rows stay for the check)."""
        t = batch.t
        bad = (t < TIME_MIN_S) | (t > TIME_MAX_S)
        if not bad.any():
            return batch, 0
        return batch.take(~bad), int(np.count_nonzero(bad))

    def _on_site(self, batch: PositionBatch) -> npt.NDArray[np.bool_]:
        """Per fix: within the site's bounds plus SITE_MARGIN_M (a fix far off is corrupt)."""
        xmin, ymin, xmax, ymax = self._site_bounds
        return (batch.x >= xmin) & (batch.x <= xmax) & (batch.y >= ymin) & (batch.y <= ymax)

    @property
    def _site_bounds(self) -> tuple[float, float, float, float]:
        if self._bounds is None:
            self._bounds = self._compute_site_bounds()
        return self._bounds

    def _compute_site_bounds(self) -> tuple[float, float, float, float]:
        points = [z.polygon.bounds for z in self.index.zones]
        points += [(r.x, r.y, r.x, r.y) for r in self.floorplan.readers]
        if not points:
            return (-math.inf, -math.inf, math.inf, math.inf)
        box = np.array(points, dtype=np.float64)
        m = SITE_MARGIN_M
        return (
            float(box[:, 0].min()) - m,
            float(box[:, 1].min()) - m,
            float(box[:, 2].max()) + m,
            float(box[:, 3].max()) + m,
        )

    def _positions(self, positions: PositionBatch, rejected: dict[str, int]) -> EngineOutput:
        """Fixes of consented students -> zone events -> rules."""
        positions = self.gate.filter_students(positions)
        dropped_before = self.zones.dropped_old
        self.zones.ensure(len(self.gate))
        events = self.zones.process(positions)
        rejected["older_than_last_fix"] = self.zones.dropped_old - dropped_before
        alerts = self._rules(events, self.zones.now) if len(positions) or events else []
        for k, v in rejected.items():
            self.rejected_total[k] = self.rejected_total.get(k, 0) + v
        return self._output(events, alerts, positions, rejected)

    def _rules(self, events: list[ZoneEvent], t: float) -> list[Alert]:
        if self.rules is None or not math.isfinite(t):
            return []
        return list(self.rules.on_events(events, LatestFixes(self, t), t))

    def _output(
        self,
        events: list[ZoneEvent],
        alerts: list[Alert],
        positions: PositionBatch | None = None,
        rejected: Mapping[str, int] | None = None,
        records: tuple[ChangeRecord, ...] = (),
    ) -> EngineOutput:
        """Hide what the alert-only policy says must not leave the engine; record what
        the system resolved on its own."""
        only = self.alert_only_tags
        if only:
            events = [e for e in events if e.tag not in only]
            if positions is not None and len(positions):
                # A mask by student index: one gather, where np.isin sorts every call.
                hide = self.gate.students_of(only)
                positions = positions.take(~hide[positions.tag])
        return EngineOutput(
            events=tuple(events),
            alerts=tuple(alerts),
            positions=PositionBatch.empty() if positions is None else positions,
            rejected=MappingProxyType(dict(rejected or {})),
            records=records + system_resolutions(alerts),
        )

    # ---- commands ----------------------------------------------------------------------------

    def advance(self, t: float) -> EngineOutput:
        """Time passes with no data: stale/lost events and timed alerts up to t."""
        events = self.zones.advance(t)
        if self.rules is None:
            alerts: list[Alert] = []
        elif events:
            alerts = self._rules(events, self.zones.now)
        else:
            alerts = list(self.rules.on_tick(self.zones.now))
        return self._output(events, alerts)

    def _zone_command(
        self, events: list[ZoneEvent], t: float, change: ChangeRecord, before: bool
    ) -> EngineOutput:
        self._bounds = None  # the zones changed
        set_zones = getattr(self.rules, "set_zones", None)
        if before and callable(set_zones):
            set_zones(self.index.zones)
        alerts = self._rules(events, t)
        if not before and callable(set_zones):
            set_zones(self.index.zones)
        return self._output(events, alerts, records=(change,))

    def _command_time(self, t: float | None) -> float:
        if t is None:
            if not math.isfinite(self.zones.now):
                raise InputError("the engine has seen no data yet: give the command's time t")
            return self.zones.now
        return float(t)

    def add_zone(
        self, zone: Zone, t: float | None = None, *, by: str = SYSTEM, reason: str = ""
    ) -> EngineOutput:
        """Add a zone now (or at t): students inside it get `inside` at once."""
        t = self._command_time(t)
        events = self.zones.add_zone(zone, t)
        change = ChangeRecord(self.zones.now, ChangeKind.ZONE_ADDED, by, zone.id, reason)
        return self._zone_command(events, self.zones.now, change, before=True)

    def update_zone(
        self, zone: Zone, t: float | None = None, *, by: str = SYSTEM, reason: str = ""
    ) -> EngineOutput:
        """Change a zone: the enter/exit it implies, at once."""
        t = self._command_time(t)
        events = self.zones.update_zone(zone, t)
        change = ChangeRecord(self.zones.now, ChangeKind.ZONE_CHANGED, by, zone.id, reason)
        return self._zone_command(events, self.zones.now, change, before=True)

    def remove_zone(
        self, zone_id: str, t: float | None = None, *, by: str = SYSTEM, reason: str = ""
    ) -> EngineOutput:
        """Remove a zone: everyone inside exits, at once."""
        t = self._command_time(t)
        events = self.zones.remove_zone(zone_id, t)
        change = ChangeRecord(self.zones.now, ChangeKind.ZONE_REMOVED, by, zone_id, reason)
        return self._zone_command(events, self.zones.now, change, before=False)

    def withdraw_consent(
        self, tag: str, t: float | None = None, *, by: str = SYSTEM, reason: str = ""
    ) -> EngineOutput:
        """Stop processing a tag at once and forget everything the engine holds about it."""
        t = self._command_time(t)
        s = self.gate.withdraw(tag)
        if s is not None:
            students = np.array([s], np.int64)
            self.zones.forget(students)
            if self._locator is not None:
                self._locator.forget(students)
            forget = getattr(self.rules, "forget", None)
            if callable(forget):
                forget(tag)
        change = ChangeRecord(t, ChangeKind.CONSENT_WITHDRAWN, by, tag, reason)
        return EngineOutput(records=(change,))

    def grant_consent(
        self, tag: str, t: float | None = None, *, by: str = SYSTEM, reason: str = ""
    ) -> EngineOutput:
        """Start processing a tag (under a new student index)."""
        t = self._command_time(t)
        self.gate.grant(tag)
        self.zones.ensure(len(self.gate))
        change = ChangeRecord(t, ChangeKind.CONSENT_GRANTED, by, tag, reason)
        return EngineOutput(records=(change,))

    def _rule_call(self, name: str, *args: Any) -> Any:
        method = getattr(self.rules, name, None)
        if self.rules is None or not callable(method):
            raise NoRulesError(f"{name}: the engine has no rules configured; give it a rule set")
        return method(*args)

    def acknowledge(self, alert_id: str, by: str, t: float, note: str = "") -> EngineOutput:
        """A person takes an alert on (with an optional note)."""
        alert: Alert = self._rule_call("acknowledge", alert_id, by, t)
        change = ChangeRecord(t, ChangeKind.ALERT_ACKNOWLEDGED, by, alert_id, note)
        return EngineOutput(alerts=(alert,), records=(change,))

    def resolve(self, alert_id: str, by: str, t: float, reason: str = "") -> EngineOutput:
        """A person closes an alert, saying why."""
        alert: Alert = self._rule_call("resolve", alert_id, by, t, reason)
        change = ChangeRecord(t, ChangeKind.ALERT_RESOLVED, by, alert_id, reason)
        return EngineOutput(alerts=(alert,), records=(change,))

    def start_evacuation(
        self, t: float, mode: str = "live", *, by: str = SYSTEM, reason: str = ""
    ) -> EngineOutput:
        """Begin a roll call (live, drill or test); the output carries its first report."""
        rollcall = self._rule_call("start_evacuation", t, mode)
        report: RollCallReport = rollcall.report(t)
        details = {"mode": report.mode.value, "expected": report.expected}
        change = ChangeRecord(t, ChangeKind.EVACUATION_STARTED, by, report.mode.value, reason)
        change = replace(change, details=MappingProxyType(details))
        return EngineOutput(records=(change,), rollcall=report)

    def mark_safe(self, tag: str, by: str, reason: str, t: float) -> EngineOutput:
        """Staff mark a student safe by hand during a roll call."""
        alerts: list[Alert] = self._rule_call("mark_safe", tag, by, reason, t)
        change = ChangeRecord(t, ChangeKind.STUDENT_MARKED_SAFE, by, tag, reason)
        return EngineOutput(alerts=tuple(alerts), records=(change,), rollcall=self._report(t))

    def end_evacuation(self, t: float, *, by: str = SYSTEM, reason: str = "") -> EngineOutput:
        """Stop the roll call; the output carries its final report."""
        report: RollCallReport = self._rule_call("end_evacuation", t)
        counts = rollcall_counts(report)
        change = ChangeRecord(t, ChangeKind.EVACUATION_ENDED, by, report.mode.value, reason)
        change = replace(change, details=MappingProxyType(counts))
        return EngineOutput(records=(change,), rollcall=report)

    def _report(self, t: float) -> RollCallReport | None:
        rollcall = getattr(self.rules, "rollcall", None)
        report: RollCallReport | None = None if rollcall is None else rollcall.report(t)
        return report
