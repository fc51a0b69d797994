"""The plain-language privacy notice, written from the configuration actually in force.

Every number and list in it comes from the site's retention policy, its rules file,
the server configuration and the roles the store knows, so the notice cannot drift
from the system: change the policy and the next notice says so.
"""

from __future__ import annotations

from engine.rules import RulesConfig
from store.consent import SCOPES
from sts.retention_policy import RetentionPolicy
from sts.serve_config import ServeConfig

#: What each role may see, in words (the enforcement is store/tokens.py and the feed).
ROLE_WORDS = {
    "admin": "school administrators: everything, and they answer export and erasure requests",
    "safety": "the safety team: live alerts and the map, and incident look-ups",
    "teacher": "teachers: only the students of their own groups",
    "integrator": "connected school systems: events and alerts, without positions unless granted",
    "auditor": "auditors: who did what (the change and audit records), not where students were",
    "gateway": "badge readers: send readings, see nothing",
}

_KIND_WORDS = {
    "events": "Movements between zones",
    "alerts": "Safety alerts",
    "records": "Staff actions",
    "raw_readings": "Raw badge readings",
    "positions": "Live positions",
    "consent": "Consent records",
    "feedback": "Feedback and concerns",
    "audit": "The access log",
}


def _duration(seconds: float) -> str:
    if seconds <= 0:
        return "not stored (kept in memory only)"
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit[:-1] if n == 1 else unit}"
    return f"{seconds:g} seconds"


def notice_text(policy: RetentionPolicy, rules: RulesConfig | None, config: ServeConfig) -> str:
    """The notice as Markdown."""
    lines = [
        "# How the student tracking system uses your information",
        "",
        f"Responsible: {policy.controller}. Questions, copies of your data or erasure: "
        f"{policy.contact}.",
        "",
        "## Only with consent",
        f"A badge is processed only while a guardian's consent is on record (scopes: "
        f"{', '.join(SCOPES)}). When consent is withdrawn or expires, the badge is ignored "
        "from its next reading and what is stored about it is deleted.",
        "",
        "## What is kept, why, and for how long",
    ]
    for kind, rule in policy.kinds.items():
        lines.append(
            f"- **{_KIND_WORDS.get(kind, kind)}** ({kind}): {rule.purpose}. Needed because "
            f"{rule.need}. Deleted after: {_duration(rule.keep_s)}."
        )
    horizon = _duration(config.feed.horizon_s)
    lines += [
        f"- The live feed's replay buffer keeps movements, alerts and staff actions for "
        f"at most {horizon}, whichever comes first.",
        "",
        "Deleted means overwritten in the database file, not only hidden. Stored notes and "
        "positions are encrypted; the key is kept apart from the data.",
        "",
        "## Who can see what",
        *[f"- {words}" for words in ROLE_WORDS.values()],
        "Every look at a student's data is written to a tamper-evident access log.",
        "",
        "## The rules that raise alerts",
    ]
    rule_list = rules.rules if rules is not None else ()
    lines += [f"- {r.id}: {r.message or r.type.value} ({r.severity.value})" for r in rule_list]
    if not rule_list:
        lines.append("- none: the system records movements but raises no alerts")
    return "\n".join(lines) + "\n"
