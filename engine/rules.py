"""Rules: zone events and time in, alerts out (deterministic, pure, no I/O).

A `RuleSet` implements the Engine's rule protocol:

- `on_events(events, positions, t) -> list[Alert]`: zone events of one batch (in order)
  and the freshest fixes, then the time-driven checks up to t;
- `on_tick(t) -> list[Alert]`: time-driven checks only (dwell limits, timetable, muster).

The returned alerts are lifecycle changes: new alerts (`raised`) and alerts the system
resolved because their condition ended (`resolved`, never for critical ones). Repeated
triggers of an open alert fold into it (see `engine/alerts.py`) and are not returned.
People act through `acknowledge` and `resolve`; evacuations through `start_evacuation`,
`mark_safe` and `end_evacuation`.

The rule types and their exact semantics are documented in docs/rules.md. The state
kept per student is small: the set of zones the student is in (with entry times), the
badge health, and the evidence of the last zone event. Nothing else about positions is
kept: fresher fixes are read from `positions` only when an alert needs evidence.

Alert-only policy (e.g. staff badges): for a tag whose group is in
`RulesConfig.alert_only_groups` the rule set keeps NO state at all. Its events are
checked one by one against the rules that can decide from a single event
(`restricted_zone`); the evidence is read only when such an alert is raised. The
validator refuses any other rule type naming an alert-only group. `alert_only_tags` tells
the Engine which tags' events and positions it must not forward or store.
"""

from __future__ import annotations

# re-exported: the rule vocabulary is imported from here by the TOML reader and tests
__all__ = [
    "STATELESS_TYPES",
    "TIMETABLE_TYPES",
    "WHEN",
    "Rule",
    "RuleError",
    "RuleSet",
    "RuleType",
    "RulesConfig",
]

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from engine.alerts import AlertBook
from engine.events import Alert, EventKind, Evidence, ZoneEvent
from engine.rollcall import RollCall, RollCallReport, RollMode, RollStatus, Sighting
from engine.rule_types import (
    MESSAGES,
    RESOLVED_RETENTION_S,
    STATELESS_TYPES,
    TIMETABLE_TYPES,
    WHEN,
    Rule,
    RuleError,
    RulesConfig,
    RuleType,
)
from engine.schedule import Occurrence, Timetable
from geometry.model import Floorplan, Zone, ZoneKind


@dataclass(slots=True)
class _Tag:
    zones: dict[str, float] = field(default_factory=dict)  # zone -> entered at
    last_zone: str = ""
    last: Evidence | None = None
    last_t: float | None = None
    silent: bool = False  # stale or lost, nothing heard since
    lost: bool = False
    left_safe_at: float | None = None  # when the student left the last safe area
    safe_raised: bool = False  # the safe-area alert of this stay outside was raised
    arrived: dict[str, float] = field(default_factory=dict)  # lesson key -> first in room
    out_since: dict[str, float] = field(default_factory=dict)  # lesson key -> left the room


def _lesson_key(occ: Occurrence) -> str:
    return f"{occ.day.isoformat()}/{occ.period.id}/{occ.lesson.group}"


class RuleSet:
    """The rules of one site, evaluated over zone events and time."""

    def __init__(
        self,
        config: RulesConfig,
        floorplan: Floorplan,
        *,
        timetable: Timetable | None = None,
        tag_groups: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.floorplan = floorplan
        self.timetable = timetable
        self.tag_groups: Mapping[str, str] = dict(tag_groups or {})
        only = config.alert_only_groups
        # Asked by the Engine on every batch: computed once (the roster is fixed here).
        self._alert_only_tags = frozenset(t for t, g in self.tag_groups.items() if g in only)
        #: Tracked, but no alert is raised about them (consent to attendance, not safety).
        self.quiet_tags: frozenset[str] = frozenset()
        own = {r.id: r.cooldown_s for r in config.rules if r.cooldown_s is not None}
        self.book = AlertBook(config.cooldown_s, own)
        self._kind: dict[str, ZoneKind] = {}
        self._level: dict[str, str] = {}
        self.campus_zones: frozenset[str] = frozenset()
        self.muster_zones: frozenset[str] = frozenset()
        self.set_zones(floorplan.zones)
        for rule in config.rules:
            if rule.when not in WHEN:
                raise RuleError(
                    f"rule {rule.id!r}: when = {rule.when!r}; use one of {sorted(WHEN)}"
                )
            if rule.when != "always" and timetable is None:
                raise RuleError(
                    f"rule {rule.id!r} (when = {rule.when!r}) needs a timetable for school "
                    'hours; give the rules file `timetable = "timetable.toml"`'
                )
            if rule.type in TIMETABLE_TYPES and timetable is None:
                raise RuleError(
                    f"rule {rule.id!r} ({rule.type.value}) needs a timetable; "
                    'give the rules file `timetable = "timetable.toml"`'
                )
        self._tags: dict[str, _Tag] = {}
        # Timed conditions: (rule, tag, zone) -> due time, a heap to find the due ones
        # without scanning (stale heap entries are skipped), and an index by (rule, tag).
        self._pending: dict[tuple[str, str, str], float] = {}
        self._heap: list[tuple[float, tuple[str, str, str]]] = []
        self._pending_by: dict[tuple[str, str], set[str]] = {}
        self._fired: set[tuple[str, str, str]] = set()
        self._max_out_open: dict[str, set[tuple[str, str]]] = {}  # rule -> {(tag, room)}
        self._checked: set[tuple[str, str]] = set()  # (rule, lesson slot) fully scanned
        # (lesson end, (rule, tag, room)): timetable alerts to clear when their lesson ends
        self._lesson_alerts: list[tuple[float, tuple[str, str, str]]] = []
        # Indexes so time-driven checks touch only the students concerned, not everyone.
        self._outside: set[str] = set()  # tags with left_safe_at set
        self._away: dict[str, set[str]] = {}  # lesson key -> tags out of the room
        self._hall: set[str] = set()  # tags with hall-pass state
        self._muster_raised: set[str] = set()  # tags with a muster alert this spell
        self._muster_swept: dict[str, float] = {}  # rule -> evacuation whose deadline passed
        self._lesson_minute = -1
        self._lesson_cache: dict[str, Occurrence | None] = {}
        self._hall_slot: dict[str, str] = {}  # rule -> the period its last sweep saw
        self._lesson_end: dict[str, float] = {}  # lesson key -> its end (clear alerts then)
        self.rollcall: RollCall | None = None
        self._now = float("-inf")
        self._pruned_at = float("-inf")
        self._positions: Mapping[str, Evidence] | None = None
        self._batch_t = float("-inf")  # the time `positions` ages its fixes to

    def set_zones(self, zones: Iterable[Zone]) -> None:
        """Adopt the current zones (the Engine calls this when zones change at runtime).

        Kind rules (`kinds = ["restricted"]`) then cover a fence drawn during an incident;
        the zone events the change implies arrive through `on_events` as usual.
        """
        zones = tuple(zones)
        self._kind = {z.id: z.kind for z in zones}
        self._level = {z.id: z.level for z in zones}
        safe = {z.id for z in zones if z.kind == ZoneKind.SAFE_AREA}
        # A plan without a safe area: every zone counts as campus.
        self.campus_zones = frozenset(safe or self._kind)
        self.muster_zones = frozenset(z.id for z in zones if z.kind == ZoneKind.MUSTER_POINT)

    # ---- who the rules apply to ---------------------------------------------------------

    @property
    def alert_only_tags(self) -> frozenset[str]:
        """Tags under the alert-only policy: the Engine keeps and forwards nothing of them."""
        return self._alert_only_tags

    def _applies(self, rule: Rule, tag: str) -> bool:
        group = self.tag_groups.get(tag, "")
        if rule.groups:
            return group in rule.groups
        return group not in self.config.alert_only_groups

    def _matches_zone(self, rule: Rule, zone: str) -> bool:
        if zone in rule.zones:
            return True
        if self._kind.get(zone) not in rule.kinds:
            return False
        return not rule.levels or self._level.get(zone) in rule.levels

    def _evidence(self, tag: str, t: float) -> Evidence | None:
        fresh = self._positions.get(tag) if self._positions is not None else None
        if fresh is not None:
            # `positions` ages fixes to the batch time; a fix newer than the decision is
            # not its evidence (and would make the output depend on batch boundaries).
            fix_t = self._batch_t - fresh.age_s
            if fix_t <= t:
                return replace(fresh, age_s=t - fix_t)
        st = self._tags.get(tag)
        if st is None or st.last is None or st.last_t is None:
            return None
        ev = st.last
        return Evidence(ev.x, ev.y, ev.level, ev.uncertainty_m, ev.age_s + (t - st.last_t))

    def _on_campus(self, st: _Tag) -> bool:
        return not st.silent and any(z in self.campus_zones for z in st.zones)

    # ---- the protocol ---------------------------------------------------------------------

    def on_events(
        self, events: Sequence[ZoneEvent], positions: Mapping[str, Evidence] | None, t: float
    ) -> list[Alert]:
        """Alerts caused by a batch of zone events, then by time up to t."""
        out: list[Alert] = []
        self._positions, self._batch_t = positions, t
        try:
            only = self.config.alert_only_groups
            for ev in events:
                # Time first, then the event: a dwell limit reached at 09:10 fires before
                # the 09:11 exit is seen, so the alerts do not depend on how the stream
                # was cut into batches.
                if ev.t > self._now:
                    out.extend(self._advance(ev.t))
                if self.tag_groups.get(ev.tag, "") in only:
                    self._alert_only_event(ev, out)
                    continue
                self._event(ev, out)
                if self.rollcall is not None:
                    self.rollcall.observe((ev,))
                    self._muster_event(ev.tag, ev.t, out)
            out.extend(self._advance(t))
        finally:
            self._positions = None
        # Alerts in the order of their own times (stable): a condition noticed at the end
        # of a batch sorts where it happened, whatever the batch boundaries were.
        out.sort(key=lambda a: a.t)
        return out

    def on_tick(self, t: float) -> list[Alert]:
        """Alerts caused by time passing up to t."""
        out = self._advance(t)
        out.sort(key=lambda a: a.t)
        return out

    # ---- commands from people -----------------------------------------------------------

    def acknowledge(self, alert_id: str, by: str, t: float) -> Alert:
        """A person takes an alert on."""
        return self.book.acknowledge(alert_id, by, t)

    def resolve(self, alert_id: str, by: str, t: float, reason: str = "") -> Alert:
        """A person closes an alert."""
        return self.book.resolve(alert_id, by, t, reason)

    def start_evacuation(self, t: float, mode: RollMode | str = RollMode.LIVE) -> RollCall:
        """Begin a roll call: every student on campus now (or silent on campus) is expected."""
        if self.rollcall is not None and self.rollcall.ended_at is None:
            raise RuleError("an evacuation is already running; end it before starting another")
        expected = [
            Sighting(
                tag=tag,
                zones=frozenset(st.zones),
                last_zone=st.last_zone,
                last_seen=None
                if st.last_t is None or st.last is None
                else st.last_t - st.last.age_s,
                uncertainty_m=None if st.last is None else st.last.uncertainty_m,
                silent=st.silent,
            )
            for tag, st in sorted(self._tags.items())
            if any(z in self.campus_zones for z in st.zones)
        ]
        self.rollcall = RollCall(RollMode(mode), t, self.muster_zones, self.campus_zones, expected)
        self._muster_raised = set()  # a new evacuation: everyone's muster state starts afresh
        return self.rollcall

    def mark_safe(self, tag: str, by: str, reason: str, t: float) -> list[Alert]:
        """Staff mark a student safe by hand; clears that student's muster alert."""
        if self.rollcall is None:
            raise RuleError("no evacuation is running; start one before marking students safe")
        if (
            self.tag_groups
            and tag not in self.tag_groups
            and tag not in self.rollcall.expected_tags
        ):
            raise RuleError(
                f"no consented student wears tag {tag!r}, so it cannot be marked safe; "
                "check the tag against the roster"
            )
        self.rollcall.mark_safe(tag, by, reason, t)
        out = self._advance(t)
        self._muster_event(tag, t, out)
        return out

    def end_evacuation(self, t: float) -> RollCallReport:
        """Stop the roll call; returns the final report (muster alerts stay for people)."""
        if self.rollcall is None or self.rollcall.ended_at is not None:
            raise RuleError("no evacuation is running")
        report = self.rollcall.report(t)
        self.rollcall.ended_at = t
        return report

    def forget(self, tag: str) -> None:
        """Consent withdrawn: drop everything held about this tag, its alerts included."""
        self._tags.pop(tag, None)
        self._outside.discard(tag)
        self._hall.discard(tag)
        for away in self._away.values():
            away.discard(tag)
        for opened in self._max_out_open.values():
            opened.difference_update({k for k in opened if k[0] == tag})
        for rule in self.config.rules:
            self._unschedule(rule, tag, "*")
        self._fired = {k for k in self._fired if k[1] != tag}
        self._muster_raised.discard(tag)
        self._lesson_alerts = [e for e in self._lesson_alerts if e[1][1] != tag]
        heapq.heapify(self._lesson_alerts)
        self.book.forget(tag)
        if self.rollcall is not None:
            self.rollcall.forget(tag)

    # ---- events -----------------------------------------------------------------------------

    def _alert_only_event(self, ev: ZoneEvent, out: list[Alert]) -> None:
        """Stateless checks for alert-only tags: nothing about them is stored."""
        if ev.kind not in (EventKind.ENTER, EventKind.INSIDE, EventKind.CROSS):
            return
        for rule in self.config.rules:
            if (
                rule.type in STATELESS_TYPES
                and self._applies(rule, ev.tag)
                and self._matches_zone(rule, ev.zone)
            ):
                self._raise(rule, ev.tag, ev.zone, ev.t, ev.evidence, out, kind=ev.kind.value)

    def _event(self, ev: ZoneEvent, out: list[Alert]) -> None:
        st = self._tags.get(ev.tag)
        if st is None:  # not setdefault: that would build a _Tag (three dicts) per event
            st = self._tags[ev.tag] = _Tag()
        if ev.kind in (EventKind.STALE, EventKind.LOST):
            st.silent = True
            if ev.kind == EventKind.LOST and not st.lost:
                st.lost = True
                self._badge_lost(ev, st, out)
            return
        if ev.kind == EventKind.OUTSIDE:
            # "inside no zone at all" (after a silence, or a first fix): every zone the
            # student was in is left, as if each had an exit at this moment.
            for zone in sorted(st.zones):
                self._event(replace(ev, zone=zone, kind=EventKind.EXIT), out)
        # An exit with an aged fix comes from removing a zone under a silent badge: it is
        # not a sign of life (see engine/zone_state.py).
        alive = not (
            ev.kind == EventKind.EXIT and ev.evidence is not None and ev.evidence.age_s > 0
        )
        if st.silent and alive:
            st.silent = False
            if st.lost:
                st.lost = False
                for rule in self._rules(RuleType.BADGE_LOST):
                    self._clear(rule.id, ev.tag, "", ev.t, "badge heard again", out)
        if ev.evidence is not None:
            st.last, st.last_t = ev.evidence, ev.t
        if ev.kind in (EventKind.ENTER, EventKind.INSIDE):
            st.zones.setdefault(ev.zone, ev.t)
            st.last_zone = ev.zone
        elif ev.kind == EventKind.EXIT:
            st.zones.pop(ev.zone, None)
        elif ev.kind == EventKind.CROSS:
            st.last_zone = ev.zone
        for rule in self.config.rules:
            if self._applies(rule, ev.tag):
                self._rule_event(rule, ev, st, out)

    def _rule_event(self, rule: Rule, ev: ZoneEvent, st: _Tag, out: list[Alert]) -> None:
        kind, tag, zone = ev.kind, ev.tag, ev.zone
        entering = kind in (EventKind.ENTER, EventKind.INSIDE)
        if rule.type in (RuleType.RESTRICTED_ZONE, RuleType.DWELL_LIMIT):
            if not self._matches_zone(rule, zone):
                return
            if kind == EventKind.CROSS:
                # A cross is a pass through the zone with no stay: it breaks a rule without
                # grace, never one that asks for a stay of `after_min`.
                if rule.type == RuleType.RESTRICTED_ZONE and rule.after_s == 0:
                    self._raise(rule, tag, zone, ev.t, ev.evidence, out, kind="cross")
            elif entering and rule.after_s == 0:
                self._raise(rule, tag, zone, ev.t, ev.evidence, out, kind=kind.value)
            elif entering:
                self._schedule(rule, tag, zone, ev.t + rule.after_s)
            elif kind == EventKind.EXIT:
                self._unschedule(rule, tag, zone)
                self._clear(rule.id, tag, zone, ev.t, "left the zone", out)
        elif rule.type == RuleType.SAFE_AREA_LEFT:
            targets = rule.zones or self.campus_zones
            if zone not in targets:
                return
            if entering:
                st.left_safe_at = None
                st.safe_raised = False
                self._outside.discard(tag)
                self._unschedule(rule, tag, "")
                self._clear(rule.id, tag, "", ev.t, "back inside the safe area", out)
            elif kind == EventKind.EXIT and not any(z in targets for z in st.zones):
                st.left_safe_at = ev.t
                self._outside.add(tag)
        elif rule.type in (RuleType.NOT_IN_TIMETABLED_ROOM, RuleType.HALL_PASS):
            self._lesson_event(rule, ev, st, out)

    def _badge_lost(self, ev: ZoneEvent, st: _Tag, out: list[Alert]) -> None:
        if not any(z in self.campus_zones for z in st.zones):
            return  # lost off campus (gone home): not an alert
        for rule in self._rules(RuleType.BADGE_LOST):
            if self._applies(rule, ev.tag):
                evidence = self._evidence(ev.tag, ev.t)
                self._raise(rule, ev.tag, "", ev.t, evidence, out, last_zone=st.last_zone)

    # ---- timetable rules ----------------------------------------------------------------

    def _lesson(self, tag: str, t: float) -> Occurrence | None:
        group = self.tag_groups.get(tag, "")
        if self.timetable is None or not group:
            return None
        # Periods start and end on whole local minutes (and zone offsets are whole
        # minutes), so the answer is constant within a UTC minute: cache it per minute.
        minute = int(t // 60)
        if minute != self._lesson_minute:
            self._lesson_minute, self._lesson_cache = minute, {}
        if group not in self._lesson_cache:
            self._lesson_cache[group] = self.timetable.lesson_at(group, t)
        return self._lesson_cache[group]

    def _lesson_event(self, rule: Rule, ev: ZoneEvent, st: _Tag, out: list[Alert]) -> None:
        occ = self._lesson(ev.tag, ev.t)
        if occ is None:
            return
        room, key = occ.lesson.room, _lesson_key(occ)
        if rule.type == RuleType.NOT_IN_TIMETABLED_ROOM:
            # Raised once per period by the scan at start + N minutes (_tick_timetable);
            # leaving the room later is the hall-pass rules' business. Arriving clears it.
            if ev.zone == room and ev.kind in (EventKind.ENTER, EventKind.INSIDE):
                self._clear(rule.id, ev.tag, room, ev.t, "arrived in the timetabled room", out)
            return
        # hall pass: only students who were in the room during this lesson can be "out"
        if ev.zone != room:
            return
        if ev.kind in (EventKind.ENTER, EventKind.INSIDE):
            st.arrived.setdefault(key, ev.t)
            self._lesson_end[key] = occ.end
            self._hall.add(ev.tag)
            if st.out_since.pop(key, None) is not None:
                self._away.get(key, set()).discard(ev.tag)
                for sub in ("max_out", "pair", "too_long"):
                    self._clear(f"{rule.id}/{sub}", ev.tag, room, ev.t, "back in the room", out)
                self._unschedule(rule, ev.tag, room)
                self._hall_counts(rule, occ, ev.t, out)
        elif ev.kind == EventKind.EXIT:
            # Leaving the room during the lesson proves the student was in it, even if
            # they arrived before the bell (same room as the period before).
            st.arrived.setdefault(key, ev.t)
            self._lesson_end[key] = occ.end
            self._hall.add(ev.tag)
            st.out_since[key] = ev.t
            self._away.setdefault(key, set()).add(ev.tag)
            if rule.max_out_s is not None:
                self._schedule(rule, ev.tag, room, ev.t + rule.max_out_s)
            self._hall_counts(rule, occ, ev.t, out, leaver=ev.tag)

    def _hall_counts(
        self, rule: Rule, occ: Occurrence, t: float, out: list[Alert], leaver: str = ""
    ) -> None:
        key, room = _lesson_key(occ), occ.lesson.room
        away = self._away.get(key, set())
        if rule.max_out is not None:
            name = f"{rule.id}/max_out"
            if len(away) > rule.max_out and leaver:
                self._raise(
                    rule, leaver, room, t, self._evidence(leaver, t), out,
                    name=name, out_now=len(away), limit=rule.max_out, period=occ.period.id,
                )  # fmt: skip
                self._max_out_open.setdefault(name, set()).add((leaver, room))
            elif len(away) <= rule.max_out:
                for tag, zone in sorted(self._max_out_open.pop(name, set())):
                    self._clear(name, tag, zone, t, "few enough students out", out)
        if leaver:
            for a, b in rule.flagged:
                if leaver in (a, b) and a in away and b in away:
                    partner = b if leaver == a else a
                    self._raise(
                        rule, leaver, room, t, self._evidence(leaver, t), out,
                        name=f"{rule.id}/pair", partner=partner, period=occ.period.id,
                    )  # fmt: skip
        else:
            for a, b in rule.flagged:
                for tag in (a, b):
                    if not (a in away and b in away):
                        self._clear(f"{rule.id}/pair", tag, room, t, "pair no longer out", out)

    def _check_in_room(
        self, rule: Rule, tag: str, st: _Tag, occ: Occurrence, t: float, out: list[Alert]
    ) -> None:
        room = occ.lesson.room
        if room in st.zones or not self._on_campus(st):
            return
        where = sorted(st.zones)
        self._raise(
            rule, tag, room, t, self._evidence(tag, t), out,
            period=occ.period.id, group=occ.lesson.group, seen_in=";".join(where),
        )  # fmt: skip
        heapq.heappush(self._lesson_alerts, (occ.end, (rule.id, tag, room)))

    # ---- time -------------------------------------------------------------------------------

    def _advance(self, t: float) -> list[Alert]:
        """Run every time-driven check up to t, in a fixed order."""
        out: list[Alert] = []
        if t < self._now:
            t = self._now  # time never runs backwards inside the rule set
        self._now = t
        if t - self._pruned_at >= 3600.0:
            # Resolved alerts have gone to the sinks: keep a day of them, not forever.
            self._pruned_at = t
            self.book.prune(t - RESOLVED_RETENTION_S)
        # Timed conditions fire at their due time (not the tick's), so the alerts do not
        # depend on how often the caller ticks.
        while self._heap and self._heap[0][0] <= t:
            due, key = heapq.heappop(self._heap)
            if key in self._fired or self._pending.get(key) != due:
                continue  # fired already, or unscheduled / rescheduled since
            rule = self._rule(key[0])
            tag, zone = key[1], key[2]
            self._fired.add(key)
            st = self._tags.get(tag)
            if rule.type == RuleType.HALL_PASS:
                since = min(st.out_since.values()) if st and st.out_since else due
                self._raise(
                    rule, tag, zone, due, self._evidence(tag, due), out,
                    name=f"{rule.id}/too_long", out_s=due - since,
                )  # fmt: skip
            else:
                since = st.zones.get(zone, due) if st else due
                self._raise(
                    rule, tag, zone, due, self._evidence(tag, due), out, dwell_s=due - since
                )
        while self._lesson_alerts and self._lesson_alerts[0][0] <= t:
            end, (rule_id, tag, zone) = heapq.heappop(self._lesson_alerts)
            self._clear(rule_id, tag, zone, end, "the period ended", out)
        for rule in self.config.rules:
            if rule.type == RuleType.SAFE_AREA_LEFT:
                self._tick_safe_area(rule, t, out)
            elif rule.type == RuleType.NOT_IN_TIMETABLED_ROOM:
                self._tick_timetable(rule, t, out)
            elif rule.type == RuleType.HALL_PASS:
                self._tick_hall_pass(rule, t, out)
            elif rule.type == RuleType.MUSTER_OVERDUE:
                self._tick_muster(rule, t, out)
        return out

    def _tick_safe_area(self, rule: Rule, t: float, out: list[Alert]) -> None:
        assert self.timetable is not None
        cal = self.timetable.calendar
        in_hours = cal.in_school_hours(t)
        for tag in sorted(self._outside):
            st = self._tags[tag]
            if st.left_safe_at is None or not self._applies(rule, tag):
                continue
            if not in_hours:
                if st.safe_raised:
                    st.safe_raised = False
                    ended = self._school_day_end(t)
                    self._clear(rule.id, tag, "", ended, "school hours ended", out)
                continue
            if st.safe_raised:
                continue  # one raise per stay outside (the book would fold it anyway)
            day_start = cal.epoch(cal.local(t).date(), cal.day_start_min)
            due = max(st.left_safe_at, day_start) + rule.after_s
            if due <= t:
                st.safe_raised = True
                self._raise(
                    rule, tag, "", due, self._evidence(tag, due), out,
                    left_at=st.left_safe_at, last_zone=st.last_zone,
                )  # fmt: skip

    def _school_day_end(self, t: float) -> float:
        """The end of the last school day that ended at or before t (t if none is near)."""
        assert self.timetable is not None
        cal = self.timetable.calendar
        day = cal.local(t).date()
        for _ in range(62):  # holidays are shorter than two months
            if cal.is_school_day(day):
                end = cal.epoch(day, cal.day_end_min)
                if end <= t:
                    return end
            day -= timedelta(days=1)
        return t

    def _tick_timetable(self, rule: Rule, t: float, out: list[Alert]) -> None:
        assert self.timetable is not None
        period = self.timetable.period_at(t)
        if period is None:
            return
        day = self.timetable.calendar.local(t).date().isoformat()
        slot = f"{day}/{period.id}"
        if (rule.id, slot) in self._checked:
            return
        cal = self.timetable.calendar
        check_at = cal.epoch(cal.local(t).date(), period.start_min) + rule.after_s
        if t < check_at:
            return
        # Once per period, at start + N minutes, every student on campus is checked; after
        # that, arriving in the room clears the alert (_lesson_event) and the period's end
        # clears what is left (_advance).
        self._checked.add((rule.id, slot))
        for tag, st in sorted(self._tags.items()):
            if not self._applies(rule, tag):
                continue
            occ = self._lesson(tag, check_at)
            if occ is not None:
                self._check_in_room(rule, tag, st, occ, check_at, out)

    def _tick_hall_pass(self, rule: Rule, t: float, out: list[Alert]) -> None:
        assert self.timetable is not None
        # Lessons only end when the period changes: skip the sweep until it does.
        period = self.timetable.period_at(t)
        slot = f"{self.timetable.calendar.local(t).date()}/{period.id if period else '-'}"
        if self._hall_slot.get(rule.id) == slot:
            return
        self._hall_slot[rule.id] = slot
        # A lesson that ended takes its hall-pass state (and open hall-pass alerts) with it.
        # Hall-pass state is shared by every hall-pass rule, so clear all of their alerts.
        names = {
            f"{r.id}/{sub}"
            for r in self._rules(RuleType.HALL_PASS)
            for sub in ("max_out", "pair", "too_long")
        }
        for tag in sorted(self._hall):
            st = self._tags[tag]
            occ = self._lesson(tag, t)
            current = "" if occ is None else _lesson_key(occ)
            st.arrived = {k: v for k, v in st.arrived.items() if k == current}
            if not st.arrived and not st.out_since:
                self._hall.discard(tag)
            for key in [k for k in st.out_since if k != current]:
                del st.out_since[key]
                self._away.get(key, set()).discard(tag)
                if not self._away.get(key):
                    self._away.pop(key, None)
                self._unschedule(rule, tag, "*")
                ended = min(t, self._lesson_end.get(key, t))
                for rule_id, _, zone in self.book.open_keys(tag):
                    if rule_id in names:
                        self._clear(rule_id, tag, zone, ended, "the period ended", out)

    def _muster_event(self, tag: str, t: float, out: list[Alert]) -> None:
        """A student's event changes their roll-call status: clear or raise at that moment."""
        rc = self.rollcall
        if rc is None or tag not in rc.expected_tags:
            return
        for rule in self._rules(RuleType.MUSTER_OVERDUE):
            self._muster_check(rule, rc, tag, t, out)

    def _muster_check(self, rule: Rule, rc: RollCall, tag: str, t: float, out: list[Alert]) -> None:
        """Clear the muster alert of an accounted student; raise one for a missing student."""
        if rc.mode == RollMode.TEST or rc.ended_at is not None:
            return
        deadline = rc.started_at + rule.after_s
        if t < deadline:
            return
        entry = rc.entry(tag)
        if entry.status in (RollStatus.ACCOUNTED, RollStatus.MARKED_SAFE):
            self._muster_raised.discard(tag)
            self._clear(rule.id, tag, "", t, f"{entry.status.value} at roll call", out)
        elif tag not in self._muster_raised:
            self._muster_raised.add(tag)
            self._raise(
                rule, tag, "", t, self._evidence(tag, t), out,
                mode=rc.mode.value, roll_status=entry.status.value, last_zone=entry.last_zone,
            )  # fmt: skip

    def _tick_muster(self, rule: Rule, t: float, out: list[Alert]) -> None:
        rc = self.rollcall
        if rc is None or rc.mode == RollMode.TEST or rc.ended_at is not None:
            return  # after the end, open muster alerts are for people to close
        deadline = rc.started_at + rule.after_s
        if t < deadline or self._muster_swept.get(rule.id) == rc.started_at:
            return
        # Once, when the deadline passes: everyone not at a muster point yet, at the
        # deadline. After that, events (and mark_safe) change statuses one by one.
        self._muster_swept[rule.id] = rc.started_at
        for tag in sorted(rc.expected_tags):
            self._muster_check(rule, rc, tag, deadline, out)

    # ---- plumbing ---------------------------------------------------------------------------

    def _rules(self, rule_type: RuleType) -> Iterable[Rule]:
        return (r for r in self.config.rules if r.type == rule_type)

    def _rule(self, rule_id: str) -> Rule:
        for r in self.config.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    def _schedule(self, rule: Rule, tag: str, zone: str, due: float) -> None:
        key = (rule.id, tag, zone)
        if key not in self._pending:
            self._pending[key] = due
            heapq.heappush(self._heap, (due, key))
            self._pending_by.setdefault((rule.id, tag), set()).add(zone)
            self._fired.discard(key)

    def _unschedule(self, rule: Rule, tag: str, zone: str) -> None:
        zones = self._pending_by.get((rule.id, tag))
        if not zones:
            return
        for z in sorted(zones) if zone == "*" else [zone] if zone in zones else []:
            key = (rule.id, tag, z)
            del self._pending[key]
            self._fired.discard(key)
            zones.discard(z)
        if not zones:
            del self._pending_by[(rule.id, tag)]

    def _raise(
        self,
        rule: Rule,
        tag: str,
        zone: str,
        t: float,
        evidence: Evidence | None,
        out: list[Alert],
        *,
        name: str = "",
        **details: Any,
    ) -> None:
        if tag in self.quiet_tags:
            return  # no safety consent: the student counts for attendance only
        if rule.when != "always":
            assert self.timetable is not None
            in_hours = self.timetable.calendar.in_school_hours(t)
            if in_hours != (rule.when == "school_hours"):
                return  # the rule is not in force at t
        mode = self.rollcall.mode if self.rollcall is not None else RollMode.LIVE
        message = rule.message or MESSAGES[rule.type]
        if rule.type == RuleType.MUSTER_OVERDUE and mode == RollMode.DRILL:
            message = f"DRILL: {message}"
        alert = self.book.trigger(
            name or rule.id,
            rule.severity,
            tag,
            zone,
            t,
            message=message,
            evidence=evidence,
            details={"type": rule.type.value, **details},
        )
        if alert is not None:
            out.append(alert)

    def _clear(
        self, rule_id: str, tag: str, zone: str, t: float, why: str, out: list[Alert]
    ) -> None:
        done = self.book.clear(rule_id, tag, zone, t, why)
        if done is not None:
            out.append(done)
