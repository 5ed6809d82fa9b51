"""Ratings from too little data: no finite rating without a win and a loss, no zero-width interval,
and the optional prior and pair reweighting."""

import numpy as np
import pytest

from ratings.battle_arrays import PairCounts, aggregate, pair_counts_from_arrays
from ratings.bradley_terry import fit_bradley_terry, prior_l2
from ratings.leaderboard import leaderboard_table, rated_models, reweight_by_pair_frequency
from ratings.prompt_leaderboard import effective_votes_per_model
from tests.ratings.reference import scenario_battles

A, B, TIE, BOTH_BAD = 0, 1, 2, 3


def counts_of(n_models: int, votes: list[tuple[int, int, int]]) -> PairCounts:
    """Pair counts from (model a, model b, outcome) votes."""
    table = np.zeros((len(votes), 4))
    table[np.arange(len(votes)), [o for *_, o in votes]] = 1.0
    return pair_counts_from_arrays(n_models, np.array([(a, b) for a, b, _ in votes]), table)


NAMES = ["alpha", "beta", "gamma", "delta"]


def test_it_rates_nobody_after_one_vote():
    table = leaderboard_table(NAMES[:2], counts_of(2, [(0, 1, A)]))
    assert table["rows"] == []
    assert {r["model"]: r["reason"] for r in table["unrated"]} == {
        "alpha": "has not lost a vote yet", "beta": "has not won a vote yet"}
    assert all(r["votes"] == 1 for r in table["unrated"])


def test_it_rates_nobody_after_two_votes_the_same_way():
    table = leaderboard_table(NAMES[:2], counts_of(2, [(0, 1, A), (1, 0, B)]))
    assert table["rows"] == [] and len(table["unrated"]) == 2


def test_it_counts_ties_in_the_fit_but_not_as_a_win_and_a_loss():
    only_ties = leaderboard_table(NAMES[:2], counts_of(2, [(0, 1, TIE), (0, 1, BOTH_BAD)]))
    assert only_ties["rows"] == []
    assert {r["reason"] for r in only_ties["unrated"]} == {"only ties so far"}
    wins_and_ties = leaderboard_table(NAMES[:2], counts_of(2, [(0, 1, A), (0, 1, TIE)]))
    assert wins_and_ties["rows"] == []


def test_it_rates_two_models_that_each_won_once_with_a_real_interval():
    table = leaderboard_table(NAMES[:2], counts_of(2, [(0, 1, A), (0, 1, B)]))
    assert [r["model"] for r in table["rows"]] == ["alpha", "beta"]
    for row in table["rows"]:
        assert np.isfinite(row["rating"]) and row["rating"] == pytest.approx(1000.0)
        assert row["ci_upper"] - row["ci_lower"] > 100  # two votes say little
    assert table["unrated"] == []


def test_it_leaves_out_a_model_that_never_lost_and_fits_the_rest_without_its_votes():
    cycle = [(0, 1, A), (1, 2, A), (2, 0, A), (0, 1, B)]
    with_winner = leaderboard_table(NAMES, counts_of(4, [*cycle, (3, 0, A), (3, 1, A)]))
    without = leaderboard_table(NAMES[:3], counts_of(3, cycle))
    assert [r["model"] for r in with_winner["unrated"]] == ["delta"]
    assert with_winner["unrated"][0] == {"model": "delta", "votes": 2, "wins": 2.0, "losses": 0.0, "ties": 0.0,
                                         "reason": "has not lost a vote yet"}
    assert [r["model"] for r in with_winner["rows"]] == [r["model"] for r in without["rows"]]
    for got, want in zip(with_winner["rows"], without["rows"], strict=True):
        assert got["rating"] == pytest.approx(want["rating"], rel=1e-9)
        assert got["ci_upper"] - got["ci_lower"] > 0
    assert {r["model"]: r["votes"] for r in with_winner["rows"]}["alpha"] == 4  # its votes with delta still show


def test_it_needs_results_both_ways_between_groups():
    # alpha and beta beat each other, gamma and delta too, but alpha and beta only ever beat them.
    votes = [(0, 1, A), (0, 1, B), (2, 3, A), (2, 3, B), (0, 2, A), (1, 3, A), (0, 1, A)]
    table = leaderboard_table(NAMES, counts_of(4, votes))
    assert {r["model"] for r in table["rows"]} == {"alpha", "beta"}
    assert {r["reason"] for r in table["unrated"]} == {"not yet both beaten and beaten by the rated models"}


def test_it_rates_every_model_of_a_well_posed_fit():
    counts = aggregate(scenario_battles("main"))
    assert rated_models(counts).all()


def test_no_rating_is_infinite_or_certain_after_fifty_random_votes():
    rng = np.random.default_rng(3)
    strength = np.array([0.8, 0.2, -0.3, 0.0])
    votes = []
    for _ in range(50):
        a, b = rng.choice(4, size=2, replace=False)
        p = 1 / (1 + np.exp(strength[b] - strength[a]))
        votes.append((int(a), int(b), A if rng.random() < p else B))
    table = leaderboard_table(NAMES, counts_of(4, votes))
    assert len(table["rows"]) + len(table["unrated"]) == 4
    for row in table["rows"]:
        assert np.isfinite(row["rating"]) and 0 < row["ci_upper"] - row["ci_lower"] < 2000


def test_a_prior_keeps_a_model_that_never_lost_finite_and_near_the_mean():
    counts = counts_of(2, [(0, 1, A)] * 3)
    unregularised = fit_bradley_terry(counts)
    regularised = fit_bradley_terry(counts, l2=prior_l2(4))
    assert abs(unregularised[0]) > 5  # thousands of rating points
    assert 0 < regularised[0] < 1.5 and regularised.sum() == pytest.approx(0.0, abs=1e-12)


def test_a_prior_of_zero_is_the_maximum_likelihood_fit():
    counts = aggregate(scenario_battles("main"))
    plain = leaderboard_table(["m"] * counts.n_models, counts)
    with_zero = leaderboard_table(["m"] * counts.n_models, counts, prior_ties=0)
    assert plain["rows"] == with_zero["rows"]


def test_a_prior_pulls_ratings_toward_the_mean_most_where_data_is_thin():
    counts = aggregate(scenario_battles("main"))
    names = [f"m{i}" for i in range(counts.n_models)]
    plain = {r["model"]: r for r in leaderboard_table(names, counts)["rows"]}
    shrunk = {r["model"]: r for r in leaderboard_table(names, counts, prior_ties=20)["rows"]}
    for name, row in plain.items():
        assert abs(shrunk[name]["rating"] - 1000) <= abs(row["rating"] - 1000) + 1e-9


def test_pair_weighting_changes_nothing_when_every_pair_has_as_many_votes():
    counts = counts_of(3, [(0, 1, A), (0, 1, B), (1, 2, A), (1, 2, B), (0, 2, A), (0, 2, B)] * 10)
    weighted = reweight_by_pair_frequency(counts)
    assert weighted.total == pytest.approx(counts.total)
    plain = leaderboard_table(NAMES[:3], counts)["rows"]
    reweighted = leaderboard_table(NAMES[:3], counts, pair_weighting=True)["rows"]
    assert [r["rating"] for r in reweighted] == pytest.approx([r["rating"] for r in plain])


def test_pair_weighting_weighs_a_battle_by_the_inverse_of_its_pair_count():
    counts = counts_of(3, [(0, 1, A)] * 100 + [(1, 2, A)] * 50)
    weighted = reweight_by_pair_frequency(counts)
    assert weighted.n == pytest.approx([75.0, 75.0])  # each pair now weighs as much; 150 battles' weight in all


def test_effective_votes_count_each_models_own_votes():
    pairs = np.array([(0, 1), (0, 1), (1, 2)])
    weights = np.array([1.0, 1.0, 0.5])
    effective = effective_votes_per_model(pairs, weights, 4)
    assert effective == pytest.approx([2.0, 2.5**2 / 2.25, 1.0, 0.0])
