"""Level selection: scores from the strongest readers, switches only with hysteresis."""

from __future__ import annotations

import numpy as np
import pytest

from geometry.errors import ConfigError, InputError
from geometry.levels import LevelSpec, LevelState, level_scores, select_levels

NEG = -np.inf


def test_scores_average_each_levels_top_readers():
    reader_level = np.array([[0, 1, 0, 0, 1], [1, 1, -1, 0, 0]])
    rssi = np.array([[-50.0, -55.0, -60.0, -70.0, -80.0], [-40.0, np.nan, -45.0, -90.0, 0.0]])
    count = np.array([5, 4])
    s = level_scores(reader_level, rssi, count, 3, top=2)
    assert s[0].tolist() == [-55.0, -67.5, NEG]
    # Row 1: NaN and level -1 skipped, column 4 beyond count ignored.
    assert s[1].tolist() == [-90.0, -40.0, NEG]


def rows(scores):
    return np.array(scores, dtype=float)


def test_switches_only_after_confirm_rows_beyond_the_margin():
    spec = LevelSpec(hysteresis_db=4.0, confirm=2)
    sc = rows([[-50, -70], [-60, -57], [-60, -50], [-62, -52], [-61, -50]])
    level, state = select_levels(sc, np.zeros(5, int), None, spec)
    # First row adopts level 0; 3 dB better is within the margin; two rows 10 dB better switch.
    assert level.tolist() == [0, 0, 0, 1, 1]
    assert state.level.tolist() == [1]


def test_a_single_spike_does_not_switch_and_resets_the_streak():
    spec = LevelSpec(hysteresis_db=4.0, confirm=2)
    sc = rows([[-50, -70], [-60, -50], [-50, -60], [-60, -50], [-50, -70]])
    level, _ = select_levels(sc, np.zeros(5, int), None, spec)
    assert level.tolist() == [0, 0, 0, 0, 0]


def test_a_different_leader_restarts_the_count():
    spec = LevelSpec(hysteresis_db=4.0, confirm=2)
    sc = rows([[-50, -70, -70], [-60, -50, -70], [-60, -70, -50], [-60, -70, -50]])
    level, _ = select_levels(sc, np.zeros(4, int), None, spec)
    assert level.tolist() == [0, 0, 0, 2]


def test_current_level_unheard_switches_at_once_and_silence_keeps_it():
    sc = rows([[-50, NEG], [NEG, -80], [NEG, NEG]])
    level, _ = select_levels(sc, np.zeros(3, int), None, LevelSpec(confirm=5))
    assert level.tolist() == [0, 1, 1]
    level, _ = select_levels(rows([[NEG, NEG]]), np.array([0]))
    assert level.tolist() == [-1]


def test_tags_interleave_and_state_carries_across_batches_without_mutation():
    spec = LevelSpec(hysteresis_db=3.0, confirm=2)
    sc = rows([[-50, -70], [-70, -50], [-60, -50], [-70, -50]])
    tag = np.array([0, 3, 0, 3])
    level, state = select_levels(sc, tag, None, spec)
    assert level.tolist() == [0, 1, 0, 1]
    assert len(state.level) == 4 and state.level[1] == -1
    before = state.level.copy(), state.streak.copy(), state.candidate.copy()
    # Tag 0 saw level 1 lead once; one more row completes the switch.
    level2, state2 = select_levels(rows([[-60, -50]]), np.array([0]), state, spec)
    assert level2.tolist() == [1]
    assert (state.level == before[0]).all() and (state.streak == before[1]).all()
    # Cutting the stream anywhere gives the same answer as one batch.
    whole, _ = select_levels(np.vstack((sc, rows([[-60, -50]]))), np.append(tag, 0), None, spec)
    assert whole.tolist() == [*level.tolist(), *level2.tolist()]
    assert state2.level[0] == 1


def test_bad_arguments():
    with pytest.raises(ConfigError):
        LevelSpec(hysteresis_db=-1)
    with pytest.raises(ConfigError):
        LevelSpec(confirm=0)
    with pytest.raises(InputError):
        select_levels(rows([[-50, -60]]), np.array([-1]))
    with pytest.raises(InputError):
        level_scores(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros(2), 2)
    assert LevelState.empty(3).level.tolist() == [-1, -1, -1]
