"""rules.toml: rules validated once against the floorplan and roster, every problem at once.

The format is documented in docs/rules.md. `parse_rules` takes an already-parsed TOML
document (a dict) and does no I/O; `load_rules` reads the file. Every problem is
reported at once in one `ConfigError`, each line naming the file, the key and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.events import Severity
from engine.roster import Roster
from engine.rules import STATELESS_TYPES, TIMETABLE_TYPES, WHEN, Rule, RulesConfig, RuleType
from engine.zone_state import KindHysteresis
from geometry.model import Floorplan, ZoneKind
from sts.toml_checks import (
    Problems,
    array_of_tables,
    check_group,
    check_keys,
    close_match,
    number,
    read_toml,
    resolve_path,
    str_list,
)

_COMMON_KEYS = {"id", "type", "severity", "message", "groups", "cooldown_min"}
_RULE_KEYS: Mapping[RuleType, set[str]] = {
    RuleType.RESTRICTED_ZONE: {"zones", "kinds", "levels", "after_min", "when"},
    RuleType.SAFE_AREA_LEFT: {"zones", "after_min"},
    RuleType.DWELL_LIMIT: {"zones", "kinds", "levels", "limit_min", "when"},
    RuleType.NOT_IN_TIMETABLED_ROOM: {"after_min"},
    RuleType.BADGE_LOST: {"when"},
    RuleType.MUSTER_OVERDUE: {"after_min"},
    RuleType.HALL_PASS: {"max_out", "flagged", "max_out_min"},
}
_DEFAULT_SEVERITY: Mapping[RuleType, Severity] = {
    RuleType.RESTRICTED_ZONE: Severity.CRITICAL,
    RuleType.SAFE_AREA_LEFT: Severity.CRITICAL,
    RuleType.DWELL_LIMIT: Severity.WARNING,
    RuleType.NOT_IN_TIMETABLED_ROOM: Severity.WARNING,
    RuleType.BADGE_LOST: Severity.WARNING,
    RuleType.MUSTER_OVERDUE: Severity.CRITICAL,
    RuleType.HALL_PASS: Severity.WARNING,
}


@dataclass(frozen=True, slots=True)
class LoadedRules:
    """A validated rules file and the timetable path it names (relative paths resolved)."""

    config: RulesConfig
    timetable: str | None = None
    zone_hysteresis: tuple[KindHysteresis, ...] = ()  # [[zone_hysteresis]]: per zone kind


def parse_rules(
    data: Mapping[str, Any],
    source: str,
    floorplan: Floorplan,
    groups: frozenset[str] | None = None,
    tags: frozenset[str] | None = None,
    has_timetable: bool | None = None,
) -> LoadedRules:
    """Validate a rules document (a parsed TOML dict); `groups`/`tags` come from the roster.

    With `groups` None (no roster), group names cannot be checked and are taken as given.
    `has_timetable` False (no timetable will be given) makes timetable rules an error;
    None defers to whether the document names a timetable.
    """
    probs = Problems(source)
    top = {"version", "timetable", "alerts", "policy", "rules", "zone_hysteresis"}
    check_keys(probs, "(top level)", data, top)
    if data.get("version", 1) != 1:
        probs.add("version", f"unsupported version {data.get('version')!r}", "write version = 1")
    timetable = data.get("timetable")
    if timetable is not None and not isinstance(timetable, str):
        probs.add("timetable", "must be a path string", 'write timetable = "timetable.toml"')
        timetable = None
    cooldown_s = _cooldown_s(probs, data)
    alert_only = _alert_only_groups(probs, data, groups)
    context = _RuleContext(
        zone_ids=frozenset(z.id for z in floorplan.zones),
        level_ids=frozenset(lv.id for lv in floorplan.levels),
        groups=groups,
        tags=tags,
        alert_only=alert_only,
        has_timetable=timetable is not None if has_timetable is None else has_timetable,
    )
    rules = _rules(probs, data, context)
    by_kind = _zone_hysteresis(probs, data)
    probs.raise_if_any("rules")
    return LoadedRules(RulesConfig(tuple(rules), cooldown_s, alert_only), timetable, by_kind)


def _zone_hysteresis(probs: Problems, data: Mapping[str, Any]) -> tuple[KindHysteresis, ...]:
    """[[zone_hysteresis]]: the dwell (s), largest band and uncertainty limit (m, default:
    no limit beyond the engine's) of zones of some kinds, and the dwell of an entry less
    certain than the limit (s, default: the engine's)."""
    out = []
    for _, where, table in array_of_tables(probs, data, "zone_hysteresis", "setting"):
        keys = {"kinds", "dwell_s", "band_m", "max_uncertainty_m", "uncertain_dwell_s"}
        check_keys(probs, where, table, keys)
        kinds = str_list(probs, f"{where}.kinds", table.get("kinds", []))
        unknown = [k for k in kinds or [] if k not in set(ZoneKind)]
        for k in unknown:
            probs.add(f"{where}.kinds", f"unknown zone kind {k!r}", 'use a kind like "restricted"')
        if not kinds:
            probs.add(f"{where}.kinds", "names no zone kind", 'write kinds = ["restricted"]')
        dwell = number(probs, f"{where}.dwell_s", table.get("dwell_s"), maximum=600.0)
        band = _limit_m(probs, where, table, "band_m")
        max_u = _limit_m(probs, where, table, "max_uncertainty_m")
        given = table.get("uncertain_dwell_s")
        slow = (
            None
            if given is None
            else number(probs, f"{where}.uncertain_dwell_s", given, maximum=600.0)
        )
        if given is not None and slow is None:
            continue  # the problem is reported; the table is left out like any invalid one
        if kinds and not unknown and dwell is not None and band is not None and max_u is not None:
            out.append(KindHysteresis(frozenset(kinds), dwell, band, max_u, slow))
    return tuple(out)


def _limit_m(probs: Problems, where: str, table: Mapping[str, Any], key: str) -> float | None:
    """An optional distance limit of a [[zone_hysteresis]] table (inf when absent)."""
    return number(probs, f"{where}.{key}", table[key], maximum=100.0) if key in table else math.inf


def _cooldown_s(probs: Problems, data: Mapping[str, Any]) -> float:
    """The [alerts] cooldown in seconds (5 minutes when unset or malformed)."""
    alerts = data.get("alerts", {})
    cooldown_s = 300.0
    if not isinstance(alerts, dict):
        probs.add("alerts", "must be a table", "write [alerts] with cooldown_min = 5")
    else:
        check_keys(probs, "alerts", alerts, {"cooldown_min"})
        if "cooldown_min" in alerts:
            v = number(probs, "alerts.cooldown_min", alerts["cooldown_min"])
            cooldown_s = 300.0 if v is None else v * 60.0
    return cooldown_s


def _alert_only_groups(
    probs: Problems, data: Mapping[str, Any], groups: frozenset[str] | None
) -> frozenset[str]:
    """The [policy] groups whose location history is never kept (alerts only)."""
    policy = data.get("policy", {})
    if not isinstance(policy, dict):
        probs.add("policy", "must be a table", 'write [policy] with alert_only_groups = ["staff"]')
        return frozenset()
    check_keys(probs, "policy", policy, {"alert_only_groups"})
    got = str_list(probs, "policy.alert_only_groups", policy.get("alert_only_groups", []))
    if got is None:
        return frozenset()
    for g in got:
        check_group(probs, "policy.alert_only_groups", g, groups)
    return frozenset(got)


@dataclass(frozen=True, slots=True)
class _RuleContext:
    """What every rule is checked against: the floorplan, the roster and the document's policy.

    `groups`/`tags` None means no roster was given, so those names are taken as given.
    """

    zone_ids: frozenset[str]
    level_ids: frozenset[str]
    groups: frozenset[str] | None
    tags: frozenset[str] | None
    alert_only: frozenset[str]
    has_timetable: bool


def _rules(probs: Problems, data: Mapping[str, Any], context: _RuleContext) -> list[Rule]:
    """The [[rules]] tables, each with a unique id; a rule with any problem is left out."""
    rules: list[Rule] = []
    seen_ids: set[str] = set()
    for i, where, table in array_of_tables(probs, data, "rules", "rule"):
        rid = table.get("id")
        if not isinstance(rid, str) or not rid:
            probs.add(f"{where}.id", "missing or not a string", f'give the rule an id = "rule-{i}"')
            rid = f"rule-{i}"
        elif rid in seen_ids:
            probs.add(f"{where}.id", f"duplicate rule id {rid!r}", "give every rule its own id")
        else:
            # Once the id is known to be good, messages name it: easier to find than an index.
            where = f'rules[{i}] (id "{rid}")'
        seen_ids.add(rid)
        rule = _parse_rule(probs, where, rid, table, context)
        if rule is not None:
            rules.append(rule)
    return rules


@dataclass(frozen=True, slots=True)
class _RuleTable:
    """One [[rules]] table of a known type, and where it is, so each problem names its key."""

    probs: Problems
    where: str
    type: RuleType
    table: Mapping[str, Any]

    def key(self, name: str) -> str:
        """The full key of `name` in this table, for messages."""
        return f"{self.where}.{name}"

    def add(self, name: str, message: str, fix: str) -> None:
        """Report a problem with the key `name` of this table."""
        self.probs.add(self.key(name), message, fix)

    def strings(self, name: str) -> list[str]:
        """The list of strings under `name`: [] when missing, or malformed (a problem)."""
        return str_list(self.probs, self.key(name), self.table.get(name, [])) or []

    def minutes_s(self, name: str, *, positive: bool = False) -> float | None:
        """The minutes under `name` (present) in seconds, or None (a problem)."""
        v = number(self.probs, self.key(name), self.table[name], positive=positive)
        return None if v is None else v * 60.0


@dataclass(frozen=True, slots=True)
class _ZoneSelection:
    """The zones a rule watches: named ids, and zone kinds (narrowed to levels)."""

    zones: frozenset[str] = frozenset()
    kinds: frozenset[ZoneKind] = frozenset()
    levels: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class _HallPassLimits:
    """A hall-pass rule's limits: how many out at once, for how long, which pairs never."""

    max_out: int | None = None
    max_out_s: float | None = None
    flagged: tuple[tuple[str, str], ...] = ()


def _parse_rule(
    probs: Problems, where: str, rid: str, table: Mapping[str, Any], context: _RuleContext
) -> Rule | None:
    """One rule table checked against `context`; None when it has any problem.

    The pieces run in a fixed order because the problems are listed in the order found,
    and users (and tests) read them in that order.
    """
    rtype = _rule_type(probs, where, table)
    if rtype is None:
        return None
    before = len(probs.lines)
    check_keys(probs, where, table, _COMMON_KEYS | _RULE_KEYS[rtype])
    rule = _RuleTable(probs, where, rtype, table)
    severity = _severity(rule)
    groups = _rule_groups(rule, context)
    selection = _zone_selection(rule, context)
    after_s = _delay_s(rule)
    _check_prerequisites(rule, groups, context)
    limits = _hall_pass(rule, groups, context) if rtype == RuleType.HALL_PASS else _HallPassLimits()
    when = _when(rule, context)
    message = _message(rule)
    cooldown_s = rule.minutes_s("cooldown_min") if "cooldown_min" in table else None
    # Every problem is already reported; the caller raises, so a half-read rule is dropped.
    if len(probs.lines) > before:
        return None
    return Rule(
        id=rid,
        type=rtype,
        cooldown_s=cooldown_s,
        severity=severity,
        groups=frozenset(groups),
        zones=selection.zones,
        kinds=selection.kinds,
        levels=selection.levels,
        after_s=after_s,
        max_out=limits.max_out,
        flagged=limits.flagged,
        max_out_s=limits.max_out_s,
        message=message,
        when=when,
    )


def _rule_type(probs: Problems, where: str, table: Mapping[str, Any]) -> RuleType | None:
    """The rule's type, or None (a problem): the other keys depend on it."""
    raw_type = table.get("type")
    try:
        return RuleType(str(raw_type))
    except ValueError:
        probs.add(
            f"{where}.type",
            f"unknown rule type {raw_type!r}"
            + close_match(str(raw_type), [t.value for t in RuleType]),
            f"use one of: {', '.join(t.value for t in RuleType)}",
        )
        return None


def _severity(rule: _RuleTable) -> Severity:
    """The rule's severity, or its type's default."""
    if "severity" not in rule.table:
        return _DEFAULT_SEVERITY[rule.type]
    try:
        return Severity(rule.table["severity"])
    except ValueError:
        rule.add(
            "severity",
            f"unknown severity {rule.table['severity']!r}",
            f"use one of: {', '.join(s.value for s in Severity)}",
        )
        return _DEFAULT_SEVERITY[rule.type]


def _rule_groups(rule: _RuleTable, context: _RuleContext) -> list[str]:
    """The groups the rule applies to; each known, and allowed by the alert-only policy."""
    groups = rule.strings("groups")
    for g in groups:
        check_group(rule.probs, rule.key("groups"), g, context.groups)
        # Only stateless rules can run on alert-only groups: the others keep a location history.
        if g in context.alert_only and rule.type not in STATELESS_TYPES:
            rule.add(
                "groups",
                f"group {g!r} is under the alert-only policy, and {rule.type.value} needs a "
                "location history that policy forbids",
                f"remove {g!r} from this rule, or from policy.alert_only_groups",
            )
    return groups


def _zone_selection(rule: _RuleTable, context: _RuleContext) -> _ZoneSelection:
    """The zones, kinds and levels the rule names, each checked against the floorplan."""
    zones = rule.strings("zones")
    for z in zones:
        if z not in context.zone_ids:
            rule.add(
                "zones",
                f"unknown zone {z!r}{close_match(z, context.zone_ids)}",
                "use a zone id from the floorplan",
            )
    kinds = _zone_kinds(rule)
    levels = rule.strings("levels")
    for lv in levels:
        if lv not in context.level_ids:
            rule.add(
                "levels",
                f"unknown level {lv!r}",
                f"use a level id from the floorplan ({', '.join(sorted(context.level_ids))})",
            )
    if levels and not kinds:
        rule.add("levels", "levels only narrow `kinds`", "add kinds = [...] or remove levels")
    names_zone = "zones" in rule.table or "kinds" in rule.table
    if rule.type in (RuleType.RESTRICTED_ZONE, RuleType.DWELL_LIMIT) and not names_zone:
        rule.add(
            "zones", "the rule names no zone", 'add zones = ["zone-id"] or kinds = ["restricted"]'
        )
    return _ZoneSelection(frozenset(zones), frozenset(kinds), frozenset(levels))


def _zone_kinds(rule: _RuleTable) -> list[ZoneKind]:
    """The zone kinds the rule names; unknown kinds are problems."""
    kinds: list[ZoneKind] = []
    for k in rule.strings("kinds"):
        try:
            kinds.append(ZoneKind(k))
        except ValueError:
            rule.add(
                "kinds",
                f"unknown zone kind {k!r}{close_match(k, [z.value for z in ZoneKind])}",
                f"use one of: {', '.join(z.value for z in ZoneKind)}",
            )
    return kinds


def _delay_s(rule: _RuleTable) -> float:
    """Seconds before the rule fires: after_min, else a dwell rule's limit_min, else 0."""
    after_s = 0.0
    if rule.type == RuleType.DWELL_LIMIT:
        if "limit_min" not in rule.table:
            rule.add("limit_min", "missing", "give the dwell limit in minutes, e.g. limit_min = 10")
        else:
            after_s = rule.minutes_s("limit_min", positive=True) or 0.0
    needs_after = rule.type in (RuleType.NOT_IN_TIMETABLED_ROOM, RuleType.MUSTER_OVERDUE)
    if needs_after and "after_min" not in rule.table:
        rule.add("after_min", "missing", "say how many minutes to wait, e.g. after_min = 10")
    if "after_min" in rule.table:
        after_s = rule.minutes_s("after_min") or 0.0
    return after_s


def _check_prerequisites(rule: _RuleTable, groups: list[str], context: _RuleContext) -> None:
    """A safe-area rule needs groups; a timetable rule needs the timetable."""
    if rule.type == RuleType.SAFE_AREA_LEFT and not groups:
        rule.add("groups", "no group must stay inside", 'name the groups, e.g. groups = ["Y7A"]')
    if rule.type in TIMETABLE_TYPES and not context.has_timetable:
        rule.add(
            "type",
            f"{rule.type.value} needs the timetable (school hours, lessons)",
            'add timetable = "timetable.toml" at the top of the rules file',
        )


def _hall_pass(rule: _RuleTable, groups: list[str], context: _RuleContext) -> _HallPassLimits:
    """A hall-pass rule's classes and limits; it must set at least one limit."""
    if not groups:
        rule.add(
            "groups", "a hall-pass rule applies to classes", 'name them, e.g. groups = ["Y7A"]'
        )
    max_out = None
    if "max_out" in rule.table:
        v = rule.table["max_out"]
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            rule.add("max_out", f"must be a whole number >= 0, got {v!r}", "write max_out = 2")
        else:
            max_out = v
    max_out_s = None
    if "max_out_min" in rule.table:
        max_out_s = rule.minutes_s("max_out_min", positive=True)
    flagged = _flagged_pairs(rule, context.tags)
    if not any(k in rule.table for k in ("max_out", "max_out_min", "flagged")):
        rule.add("max_out", "the rule sets no limit", "set max_out, max_out_min or flagged")
    return _HallPassLimits(max_out, max_out_s, flagged)


def _flagged_pairs(rule: _RuleTable, tags: frozenset[str] | None) -> tuple[tuple[str, str], ...]:
    """The pairs of tags never out at once; each a pair of roster tags (when a roster is known)."""
    flagged: list[tuple[str, str]] = []
    raw = rule.table.get("flagged", [])
    if not isinstance(raw, list):
        rule.add("flagged", f"must be a list of tag pairs, got {raw!r}", 'write [["a", "b"]]')
        return ()
    for j, pair in enumerate(raw):
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        ):
            rule.add(
                f"flagged[{j}]",
                f"must be a pair of tags, got {pair!r}",
                'write ["badge-0001", "badge-0002"]',
            )
            continue
        for tag in pair:
            if tags is not None and tag not in tags:
                rule.add(f"flagged[{j}]", f"unknown tag {tag!r}", "use tags from the roster")
        flagged.append((pair[0], pair[1]))
    return tuple(flagged)


def _when(rule: _RuleTable, context: _RuleContext) -> str:
    """When the rule applies (always, or in or out of school hours, which need the timetable)."""
    when = rule.table.get("when", "always")
    if not isinstance(when, str) or when not in WHEN:
        rule.add("when", f"unknown value {when!r}", f"use one of: {', '.join(sorted(WHEN))}")
    elif when != "always" and not context.has_timetable:
        rule.add(
            "when",
            f"when = {when!r} needs the timetable's school hours",
            'add timetable = "timetable.toml" at the top of the rules file',
        )
    return str(when)


def _message(rule: _RuleTable) -> str:
    """The rule's own alert text ("" for the default)."""
    message = rule.table.get("message", "")
    if not isinstance(message, str):
        rule.add("message", "must be a string", 'write message = "..."')
        return ""
    return message


def load_rules(
    path: str | Path,
    floorplan: Floorplan,
    roster: Roster | None = None,
    has_timetable: bool | None = None,
) -> LoadedRules:
    """Read and validate a rules file; a named timetable path is resolved beside it."""
    data = read_toml(path)
    groups = roster.groups if roster is not None else None
    tags = roster.tags if roster is not None else None
    loaded = parse_rules(data, str(path), floorplan, groups, tags, has_timetable)
    timetable = resolve_path(Path(path), loaded.timetable)
    return LoadedRules(loaded.config, timetable, loaded.zone_hysteresis)
