"""Battles as arrays: aggregation to pair counts and selection."""

import numpy as np

from ratings import battle_arrays
from ratings.battle_arrays import Battles, aggregate, pair_counts_from_arrays
from ratings.lmsys import battles_from_records
from tests.ratings.helpers import RECORDS


def test_it_aggregates_to_counts_per_unordered_pair_seen_from_the_lower_index():
    battles = battles_from_records(RECORDS)
    counts = aggregate(battles)
    # models: 0 claude-z, 1 gpt-x, 2 llama-y
    # gpt-x beat llama-y (1 vs 2): pair (1, 2), A win
    # llama-y vs claude-z both bad: pair (0, 2), both bad
    # claude-z vs gpt-x tie, then gpt-x lost to claude-z: pair (0, 1), one tie and one A win for claude-z
    assert counts.pairs.tolist() == [[0, 1], [0, 2], [1, 2]]
    assert counts.counts.tolist() == [[1, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]]
    assert counts.n.tolist() == [2, 1, 1]
    assert counts.score.tolist() == [1.5, 0.5, 1.0]
    assert counts.total == 4


def test_it_aggregates_large_model_counts_by_sorting_too(monkeypatch):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 40, 5000)
    b = (a + rng.integers(1, 40, 5000)) % 40
    battles = Battles(tuple(str(i) for i in range(40)), a, b, rng.integers(0, 4, 5000).astype(np.int8))
    dense = aggregate(battles)
    monkeypatch.setattr(battle_arrays, "_DENSE_CELL_LIMIT", 0)
    sorted_ = aggregate(battles)
    assert sorted_.pairs.tolist() == dense.pairs.tolist()
    assert sorted_.counts.tolist() == dense.counts.tolist()
    rebuilt = pair_counts_from_arrays(40, np.stack([b, a], axis=1), np.eye(4)[[1, 0, 2, 3]][battles.outcome])
    assert rebuilt.counts.tolist() == dense.counts.tolist()


def test_it_selects_battles_and_keeps_the_model_list():
    battles = battles_from_records(RECORDS)
    english = battles.select(battles.fields["language"] == "English")
    assert len(english) == 3
    assert english.models == battles.models
    assert english.fields["turn"].tolist() == [1, 1, 1]
    assert battles.votes_per_model().tolist() == [3, 3, 2]
