"""The citation count joins style control as a covariate (as Search Arena's does): a model that wins
because it cites more is not rated stronger for it, and where no answer cites (the text arena) the
style-controlled leaderboard is what it was with the four style features alone."""

import numpy as np
import pytest

from ratings.battle_arrays import OUTCOME_SCORE
from ratings.bradley_terry import to_rating_scale
from ratings.features import STYLE_COLUMNS, battle_features
from ratings.leaderboard import style_controlled_ratings
from ratings.style import fit_style_bradley_terry, standardize_features, style_features
from tests.ratings.reference import scenario_battles


def test_a_citation_column_of_zeros_leaves_the_style_controlled_ratings_unchanged():
    battles = scenario_battles("main")
    relative = style_features(battles.fields["style_a"], battles.fields["style_b"], standardize=False)
    args = battles.model_a, battles.model_b, OUTCOME_SCORE[battles.outcome]
    four = style_controlled_ratings(*args, relative, battles.n_models)
    five = style_controlled_ratings(*args, np.column_stack([relative, np.zeros(len(relative))]), battles.n_models)
    for before, after in zip(four, five, strict=True):
        np.testing.assert_allclose(after, before, rtol=1e-12, atol=1e-9)


def test_wins_that_come_from_citing_more_are_credited_to_the_citations():
    # Two equally strong search models; one cites more sources on average, and answers with more
    # sources win more often. (Unpenalised, as in test_style: the leaderboard's arena-rank penalty
    # shrinks every style coefficient alike.)
    rng = np.random.default_rng(11)
    n = 20_000
    a = rng.integers(0, 2, n)
    b = 1 - a
    mean = np.where(np.column_stack([a, b]) == 0, 4.0, 1.5)  # model 0 cites ~4 sources, model 1 ~1.5
    cites = rng.poisson(mean).astype(float)
    relative_cites = style_features(cites[:, :1], cites[:, 1:], standardize=False)[:, 0]
    score = (rng.random(n) < 1 / (1 + np.exp(-2.0 * relative_cites))).astype(float)
    tokens = rng.integers(50, 500, size=(n, 2)).astype(float)
    style = np.column_stack([style_features(tokens[:, :1], tokens[:, 1:], standardize=False), np.zeros((n, 3))])
    without = fit_style_bradley_terry(a, b, score, standardize_features(style), 2, reg=0.0)
    with_cites = fit_style_bradley_terry(a, b, score, standardize_features(np.column_stack([style, relative_cites])),
                                         2, reg=0.0)
    assert to_rating_scale(without.theta)[0] - to_rating_scale(without.theta)[1] > 100  # citations' wins as strength
    assert to_rating_scale(with_cites.theta) == pytest.approx([1000, 1000], abs=10)
    assert with_cites.beta[4] == pytest.approx(2.0 * relative_cites.std(), rel=0.1)


def test_a_battle_counts_the_sources_each_side_cites():
    class Answer:
        def __init__(self, side, text, citations):
            self.side, self.text, self.citations = side, text, citations

    source = {"n": 1, "title": "uuid", "source": "uuid.txt"}
    meta = battle_features(["Q?", "And?"], [Answer("a", "x [1]", [source]), Answer("b", "y", []),
                                            Answer("a", "z [1][2]", [source, {**source, "n": 2}]),
                                            Answer("b", "w", [])])["conv_metadata"]
    assert (meta["citation_count_a"], meta["citation_count_b"]) == (3, 0)
    assert STYLE_COLUMNS["style_citations"] == "citation_count_{}"
