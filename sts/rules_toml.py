"""rules.toml: rules validated once against the floorplan and roster, every problem at once.

The format is documented in docs/rules.md. `parse_rules` takes an already-parsed TOML
document (a dict) and does no I/O; `load_rules` reads the file. Every problem is
reported at once in one `ConfigError`, each line naming the file, the key and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.events import Severity
from engine.roster import Roster
from engine.rules import STATELESS_TYPES, TIMETABLE_TYPES, WHEN, Rule, RulesConfig, RuleType
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

_COMMON_KEYS = {"id", "type", "severity", "message", "groups"}
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
    check_keys(probs, "(top level)", data, {"version", "timetable", "alerts", "policy", "rules"})
    if data.get("version", 1) != 1:
        probs.add("version", f"unsupported version {data.get('version')!r}", "write version = 1")
    timetable = data.get("timetable")
    if timetable is not None and not isinstance(timetable, str):
        probs.add("timetable", "must be a path string", 'write timetable = "timetable.toml"')
        timetable = None
    if has_timetable is None:
        has_timetable = timetable is not None

    alerts = data.get("alerts", {})
    cooldown_s = 300.0
    if not isinstance(alerts, dict):
        probs.add("alerts", "must be a table", "write [alerts] with cooldown_min = 5")
    else:
        check_keys(probs, "alerts", alerts, {"cooldown_min"})
        if "cooldown_min" in alerts:
            v = number(probs, "alerts.cooldown_min", alerts["cooldown_min"])
            cooldown_s = 300.0 if v is None else v * 60.0

    policy = data.get("policy", {})
    alert_only: frozenset[str] = frozenset()
    if not isinstance(policy, dict):
        probs.add("policy", "must be a table", 'write [policy] with alert_only_groups = ["staff"]')
    else:
        check_keys(probs, "policy", policy, {"alert_only_groups"})
        got = str_list(probs, "policy.alert_only_groups", policy.get("alert_only_groups", []))
        if got is not None:
            for g in got:
                check_group(probs, "policy.alert_only_groups", g, groups)
            alert_only = frozenset(got)

    zone_ids = {z.id for z in floorplan.zones}
    level_ids = {lv.id for lv in floorplan.levels}
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
            where = f'rules[{i}] (id "{rid}")'
        seen_ids.add(rid)
        rule = _parse_rule(
            probs, where, rid, table, zone_ids, level_ids, groups, tags, alert_only, has_timetable
        )
        if rule is not None:
            rules.append(rule)
    probs.raise_if_any("rules")
    return LoadedRules(RulesConfig(tuple(rules), cooldown_s, alert_only), timetable)


def _parse_rule(
    probs: Problems,
    where: str,
    rid: str,
    table: Mapping[str, Any],
    zone_ids: set[str],
    level_ids: set[str],
    groups: frozenset[str] | None,
    tags: frozenset[str] | None,
    alert_only: frozenset[str],
    has_timetable: bool,
) -> Rule | None:
    types = ", ".join(t.value for t in RuleType)
    raw_type = table.get("type")
    try:
        rtype = RuleType(str(raw_type))
    except ValueError:
        probs.add(
            f"{where}.type",
            f"unknown rule type {raw_type!r}"
            + close_match(str(raw_type), [t.value for t in RuleType]),
            f"use one of: {types}",
        )
        return None
    check_keys(probs, where, table, _COMMON_KEYS | _RULE_KEYS[rtype])
    ok = True

    def bad(key: str, message: str, fix: str) -> None:
        nonlocal ok
        ok = False
        probs.add(f"{where}.{key}", message, fix)

    severity = _DEFAULT_SEVERITY[rtype]
    if "severity" in table:
        try:
            severity = Severity(table["severity"])
        except ValueError:
            bad(
                "severity",
                f"unknown severity {table['severity']!r}",
                f"use one of: {', '.join(s.value for s in Severity)}",
            )
    rule_groups = str_list(probs, f"{where}.groups", table.get("groups", [])) or []
    for g in rule_groups:
        check_group(probs, f"{where}.groups", g, groups)
        if g in alert_only and rtype not in STATELESS_TYPES:
            bad(
                "groups",
                f"group {g!r} is under the alert-only policy, and {rtype.value} needs a location "
                "history that policy forbids",
                f"remove {g!r} from this rule, or from policy.alert_only_groups",
            )
    zones = str_list(probs, f"{where}.zones", table.get("zones", [])) or []
    for z in zones:
        if z not in zone_ids:
            bad(
                "zones",
                f"unknown zone {z!r}{close_match(z, zone_ids)}",
                "use a zone id from the floorplan",
            )
    kinds: list[ZoneKind] = []
    for k in str_list(probs, f"{where}.kinds", table.get("kinds", [])) or []:
        try:
            kinds.append(ZoneKind(k))
        except ValueError:
            bad(
                "kinds",
                f"unknown zone kind {k!r}{close_match(k, [z.value for z in ZoneKind])}",
                f"use one of: {', '.join(z.value for z in ZoneKind)}",
            )
    levels = str_list(probs, f"{where}.levels", table.get("levels", [])) or []
    for lv in levels:
        if lv not in level_ids:
            bad(
                "levels",
                f"unknown level {lv!r}",
                f"use a level id from the floorplan ({', '.join(sorted(level_ids))})",
            )
    if levels and not kinds:
        bad("levels", "levels only narrow `kinds`", "add kinds = [...] or remove levels")

    after_s = 0.0
    names_zone = "zones" in table or "kinds" in table
    if rtype in (RuleType.RESTRICTED_ZONE, RuleType.DWELL_LIMIT) and not names_zone:
        bad("zones", "the rule names no zone", 'add zones = ["zone-id"] or kinds = ["restricted"]')
    if rtype == RuleType.DWELL_LIMIT:
        if "limit_min" not in table:
            bad("limit_min", "missing", "give the dwell limit in minutes, e.g. limit_min = 10")
        else:
            v = number(probs, f"{where}.limit_min", table["limit_min"], positive=True)
            ok = ok and v is not None
            after_s = (v or 0.0) * 60.0
    if (
        rtype in (RuleType.NOT_IN_TIMETABLED_ROOM, RuleType.MUSTER_OVERDUE)
        and "after_min" not in table
    ):
        bad("after_min", "missing", "say how many minutes to wait, e.g. after_min = 10")
    if "after_min" in table:
        v = number(probs, f"{where}.after_min", table["after_min"])
        ok = ok and v is not None
        after_s = (v or 0.0) * 60.0
    if rtype == RuleType.SAFE_AREA_LEFT and not rule_groups:
        bad("groups", "no group must stay inside", 'name the groups, e.g. groups = ["Y7A"]')
    if rtype in TIMETABLE_TYPES and not has_timetable:
        bad(
            "type",
            f"{rtype.value} needs the timetable (school hours, lessons)",
            'add timetable = "timetable.toml" at the top of the rules file',
        )

    max_out = None
    max_out_s = None
    flagged: list[tuple[str, str]] = []
    if rtype == RuleType.HALL_PASS:
        if not rule_groups:
            bad("groups", "a hall-pass rule applies to classes", 'name them, e.g. groups = ["Y7A"]')
        if "max_out" in table:
            v = table["max_out"]
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                bad("max_out", f"must be a whole number >= 0, got {v!r}", "write max_out = 2")
            else:
                max_out = v
        if "max_out_min" in table:
            m = number(probs, f"{where}.max_out_min", table["max_out_min"], positive=True)
            ok = ok and m is not None
            max_out_s = None if m is None else m * 60.0
        for j, pair in enumerate(table.get("flagged", [])):
            if not (
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
            ):
                bad(
                    f"flagged[{j}]",
                    f"must be a pair of tags, got {pair!r}",
                    'write ["badge-0001", "badge-0002"]',
                )
                continue
            for tag in pair:
                if tags is not None and tag not in tags:
                    bad(f"flagged[{j}]", f"unknown tag {tag!r}", "use tags from the roster")
            flagged.append((pair[0], pair[1]))
        if not any(k in table for k in ("max_out", "max_out_min", "flagged")):
            bad("max_out", "the rule sets no limit", "set max_out, max_out_min or flagged")

    when = table.get("when", "always")
    if when not in WHEN:
        bad("when", f"unknown value {when!r}", f"use one of: {', '.join(sorted(WHEN))}")
    elif when != "always" and not has_timetable:
        bad(
            "when",
            f"when = {when!r} needs the timetable's school hours",
            'add timetable = "timetable.toml" at the top of the rules file',
        )
    message = table.get("message", "")
    if not isinstance(message, str):
        bad("message", "must be a string", 'write message = "..."')
        message = ""
    if not ok:
        return None
    return Rule(
        id=rid,
        type=rtype,
        severity=severity,
        groups=frozenset(rule_groups),
        zones=frozenset(zones),
        kinds=frozenset(kinds),
        levels=frozenset(levels),
        after_s=after_s,
        max_out=max_out,
        flagged=tuple(flagged),
        max_out_s=max_out_s,
        message=message,
        when=str(when),
    )


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
    return LoadedRules(loaded.config, resolve_path(Path(path), loaded.timetable))
