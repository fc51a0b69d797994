"""The alert lifecycle table, de-duplication, cooldown, and critical alerts staying open."""

from __future__ import annotations

import pytest

from engine.alerts import (
    SYSTEM,
    TRANSITIONS,
    AlertAction,
    AlertBook,
    AlertError,
    CriticalAlertError,
    IllegalAlertTransitionError,
    UnknownAlertError,
    alert_id,
    transition,
)
from engine.events import AlertState, Evidence, Severity

R, A, X = AlertState.RAISED, AlertState.ACKNOWLEDGED, AlertState.RESOLVED

LEGAL = {
    (None, AlertAction.RAISE): R,
    (R, AlertAction.UPDATE): R,
    (R, AlertAction.ACKNOWLEDGE): A,
    (R, AlertAction.RESOLVE): X,
    (A, AlertAction.UPDATE): A,
    (A, AlertAction.RESOLVE): X,
}
ALL_MOVES = [(s, a) for s in (None, R, A, X) for a in AlertAction]


@pytest.mark.parametrize(("state", "action"), ALL_MOVES)
def test_every_move_of_the_table(state: AlertState | None, action: AlertAction) -> None:
    if (state, action) in LEGAL:
        assert transition("al-1", state, action) == LEGAL[(state, action)]
    else:
        with pytest.raises(IllegalAlertTransitionError, match=f"cannot {action.value}") as info:
            transition("al-1", state, action)
        assert info.value.alert_id == "al-1" and info.value.state == state


def test_table_is_exactly_the_documented_one() -> None:
    assert dict(TRANSITIONS) == LEGAL


def ev(t: float = 0.0) -> Evidence:
    return Evidence(x=1.0, y=2.0, level="L0", uncertainty_m=1.5, age_s=t)


def test_raise_acknowledge_resolve_records_who_and_when() -> None:
    book = AlertBook()
    a = book.trigger("restricted", Severity.CRITICAL, "badge-1", "boiler", 100.0, evidence=ev())
    assert a is not None and a.state == R and a.raised_at == 100.0 and a.evidence == ev()
    b = book.acknowledge(a.id, "Ms Reed", 130.0)
    assert (b.state, b.acknowledged_by, b.acknowledged_at) == (A, "Ms Reed", 130.0)
    c = book.resolve(a.id, "Ms Reed", 200.0, "student back in class")
    assert (c.state, c.resolved_by, c.resolved_at, c.resolution) == (
        X,
        "Ms Reed",
        200.0,
        "student back in class",
    )
    assert c.raised_at == 100.0 and book.open_alerts() == []


def test_raised_alert_can_be_resolved_without_acknowledgement() -> None:
    book = AlertBook()
    a = book.trigger("dwell", Severity.WARNING, "badge-1", "wc", 0.0)
    assert a is not None
    assert book.resolve(a.id, "Mr Lee", 5.0).state == X


def test_illegal_moves_through_the_book_raise_named_errors() -> None:
    book = AlertBook()
    a = book.trigger("dwell", Severity.WARNING, "badge-1", "wc", 0.0)
    assert a is not None
    book.acknowledge(a.id, "Mr Lee", 1.0)
    with pytest.raises(IllegalAlertTransitionError, match="acknowledged"):
        book.acknowledge(a.id, "Mr Lee", 2.0)
    book.resolve(a.id, "Mr Lee", 3.0)
    with pytest.raises(IllegalAlertTransitionError, match="resolved"):
        book.resolve(a.id, "Mr Lee", 4.0)
    with pytest.raises(IllegalAlertTransitionError):
        book.acknowledge(a.id, "Mr Lee", 4.0)
    with pytest.raises(UnknownAlertError, match="no alert"):
        book.acknowledge("al-nope", "Mr Lee", 4.0)
    with pytest.raises(AlertError, match="name of the person"):
        book.acknowledge(a.id, SYSTEM, 4.0)
    with pytest.raises(AlertError, match="name of the person"):
        book.resolve(a.id, "", 4.0)


def test_critical_alert_is_never_resolved_by_the_system() -> None:
    book = AlertBook()
    a = book.trigger("restricted", Severity.CRITICAL, "badge-1", "boiler", 0.0)
    assert a is not None
    with pytest.raises(CriticalAlertError, match="only a person"):
        book.resolve(a.id, SYSTEM, 10.0)
    # The condition clearing leaves it open and notes when it cleared.
    assert book.clear("restricted", "badge-1", "boiler", 20.0, "left the zone") is None
    still = book.get(a.id)
    assert still.state == R and still.details["condition_cleared_at"] == 20.0
    assert book.resolve(a.id, "Ms Reed", 30.0).state == X


def test_warning_alert_is_resolved_by_the_system_when_the_condition_clears() -> None:
    book = AlertBook()
    a = book.trigger("dwell", Severity.WARNING, "badge-1", "wc", 0.0)
    assert a is not None
    done = book.clear("dwell", "badge-1", "wc", 50.0, "left the restroom")
    assert done is not None and done.state == X and done.resolved_by == SYSTEM
    assert book.clear("dwell", "badge-1", "wc", 60.0, "again") is None  # nothing open


def test_one_wandering_student_is_one_alert() -> None:
    book = AlertBook()
    first = book.trigger("restricted", Severity.CRITICAL, "badge-1", "boiler", 0.0)
    raised = [first] + [
        book.trigger("restricted", Severity.CRITICAL, "badge-1", "boiler", float(t), evidence=ev(t))
        for t in range(1, 50)
    ]
    assert first is not None and raised[1:] == [None] * 49
    assert len(book.open_alerts()) == 1
    current = book.get(first.id)
    assert current.occurrences == 50 and current.evidence == ev(49) and book.deduplicated == 49
    # Another zone or another student is another alert.
    assert book.trigger("restricted", Severity.CRITICAL, "badge-1", "roof", 5.0) is not None
    assert book.trigger("restricted", Severity.CRITICAL, "badge-2", "boiler", 5.0) is not None


def test_acknowledged_alert_still_absorbs_triggers() -> None:
    book = AlertBook()
    a = book.trigger("dwell", Severity.WARNING, "badge-1", "wc", 0.0)
    assert a is not None
    book.acknowledge(a.id, "Mr Lee", 1.0)
    assert book.trigger("dwell", Severity.WARNING, "badge-1", "wc", 2.0) is None
    assert book.get(a.id).state == A and book.get(a.id).occurrences == 2


def test_cooldown_after_resolve() -> None:
    book = AlertBook(cooldown_s=60.0)
    a = book.trigger("dwell", Severity.WARNING, "badge-1", "wc", 0.0)
    assert a is not None
    book.clear("dwell", "badge-1", "wc", 10.0, "left")
    assert book.trigger("dwell", Severity.WARNING, "badge-1", "wc", 69.0) is None
    assert book.suppressed == 1
    again = book.trigger("dwell", Severity.WARNING, "badge-1", "wc", 70.0)
    assert again is not None and again.id != a.id


def test_a_rule_with_its_own_cooldown_raises_again_after_it() -> None:
    book = AlertBook(cooldown_s=300.0, per_rule={"restricted": 0.0})
    for rule in ("restricted", "dwell"):
        a = book.trigger(rule, Severity.WARNING, "badge-1", "boiler", 0.0)
        assert a is not None
        book.resolve(a.id, "Sam", 10.0)
    assert book.trigger("restricted", Severity.WARNING, "badge-1", "boiler", 11.0) is not None
    assert book.trigger("dwell", Severity.WARNING, "badge-1", "boiler", 11.0) is None


def test_alert_ids_are_deterministic() -> None:
    def run() -> list[str]:
        book = AlertBook()
        out = []
        for t, tag in [(1.0, "badge-1"), (2.0, "badge-2"), (3.0, "badge-1")]:
            a = book.trigger("restricted", Severity.CRITICAL, tag, "boiler", t)
            if a is not None:
                out.append(a.id)
        return out

    assert (
        run()
        == run()
        == [
            alert_id("restricted", "badge-1", "boiler", 1.0),
            alert_id("restricted", "badge-2", "boiler", 2.0),
        ]
    )
    assert alert_id("r", "a", "z", 1.0) != alert_id("r", "a", "z", 1.5)


def test_alert_record_is_json_ready_and_complete() -> None:
    import json

    from engine.alerts import alert_record

    book = AlertBook()
    a = book.trigger(
        "dwell", Severity.WARNING, "badge-1", "wc", 5.0, evidence=ev(3.0), details={"z": 1, "a": 2}
    )
    assert a is not None
    rec = alert_record(book.acknowledge(a.id, "Mr Lee", 6.0))
    assert list(rec)[:7] == ["id", "t", "rule", "severity", "tag", "zone", "state"]
    assert (rec["state"], rec["acknowledged_by"], rec["raised_at"]) == (
        "acknowledged",
        "Mr Lee",
        5.0,
    )
    assert rec["evidence"] == {
        "x": 1.0,
        "y": 2.0,
        "level": "L0",
        "uncertainty_m": 1.5,
        "age_s": 3.0,
    }
    assert list(rec["details"]) == ["a", "z"]
    assert json.loads(json.dumps(rec)) == rec


def test_prune_drops_old_resolved_alerts_only() -> None:
    book = AlertBook(cooldown_s=60.0)
    old = book.trigger("dwell", Severity.WARNING, "badge-1", "wc", 0.0)
    still = book.trigger("restricted", Severity.CRITICAL, "badge-2", "boiler", 0.0)
    assert old is not None and still is not None
    book.clear("dwell", "badge-1", "wc", 10.0, "left")
    assert book.prune(5.0) == 0  # resolved after the horizon: kept
    assert book.prune(100.0) == 1
    assert [a.id for a in book.all_alerts()] == [still.id]  # open alerts are never pruned
    # The cooldown ended long ago, so a new alert can be raised.
    assert book.trigger("dwell", Severity.WARNING, "badge-1", "wc", 200.0) is not None


def test_a_restored_open_alert_folds_new_triggers_and_a_resolved_one_cools_down() -> None:
    from engine.alerts import AlertBook
    from engine.events import Severity

    before = AlertBook(cooldown_s=300.0)
    open_alert = before.trigger("r", Severity.CRITICAL, "b1", "z", 10.0)
    closed = before.trigger("r", Severity.WARNING, "b2", "z", 10.0)
    assert open_alert is not None and closed is not None
    closed = before.resolve(closed.id, "Sam", 20.0, "fine")
    after = AlertBook(cooldown_s=300.0)
    after.restore(open_alert)
    after.restore(closed)
    assert after.trigger("r", Severity.CRITICAL, "b1", "z", 30.0) is None  # folded
    assert after.get(open_alert.id).occurrences == 2
    assert after.trigger("r", Severity.WARNING, "b2", "z", 100.0) is None  # cooling down
    assert after.suppressed == 1
