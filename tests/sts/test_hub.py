"""The hub: every output of every Engine call reaches every sink, in order, counted."""

from __future__ import annotations

import io

import pytest

from engine.engine import Engine, EngineOutput
from engine.events import Severity
from engine.rules import Rule, RulesConfig, RuleSet, RuleType
from sts.hub import Hub
from sts.sinks import CollectSink, JsonLinesSink
from sts.ticks import Chunk, time_ticks
from tests.engine.test_engine import TAGS, plan, positions, readings


class Calls:
    """A sink that remembers each output it was handed."""

    def __init__(self) -> None:
        self.outputs: list[EngineOutput] = []
        self.closed = False

    def write(self, out: EngineOutput) -> None:
        self.outputs.append(out)

    def close(self) -> None:
        self.closed = True


def hub_with_rules(*sinks: object) -> Hub:
    fp = plan()
    rule = Rule("boiler", RuleType.RESTRICTED_ZONE, Severity.CRITICAL, zones=frozenset({"boiler"}))
    return Hub(Engine(fp, rules=RuleSet(RulesConfig(rules=(rule,)), fp)), list(sinks))  # type: ignore[arg-type]


def test_every_sink_gets_every_output_and_the_counts_add_up() -> None:
    calls, collected = Calls(), CollectSink()
    text = io.StringIO()
    hub = hub_with_rules(calls, collected, JsonLinesSink(text))
    hub.run_readings(time_ticks([Chunk(readings(), tuple(TAGS))], 1.0))
    hub.close()
    assert calls.closed
    assert hub.stats.events == len(collected.events) == len(text.getvalue().splitlines()) > 0
    assert hub.stats.alerts == len(collected.alerts) == 1
    assert hub.stats.fixes == sum(len(o.positions) for o in calls.outputs) > 0
    assert hub.stats.readings == len(readings())
    assert hub.stats.ticks == len(calls.outputs) - 1  # + the flush at the end


def test_commands_go_through_the_hub_to_the_sinks() -> None:
    collected = CollectSink()
    hub = hub_with_rules(collected)
    hub.run_positions(time_ticks([Chunk(positions(), tuple(TAGS))], 1.0))
    alert = collected.alerts[0]
    hub.command("acknowledge", alert.id, "Ms Day", 200.0, note="seen on camera")
    assert collected.alerts[-1].acknowledged_by == "Ms Day"
    assert [r.kind.value for r in collected.records] == ["alert_acknowledged"]
    assert hub.stats.records == 1
    with pytest.raises(ValueError, match="unknown engine command"):
        hub.command("process", None)


def test_the_hub_output_equals_the_engine_driven_by_hand() -> None:
    by_hand = Engine(plan())
    expected = [by_hand.process_positions(positions(), TAGS)]
    collected = CollectSink()
    Hub(Engine(plan()), [collected]).positions(positions(), TAGS)
    assert tuple(collected.events) == expected[0].events
