import json

import numpy as np
import pytest

from ratings.battle_arrays import Battles
from ratings.leaderboard import compute_leaderboard
from tests.ratings.reference import scenario, scenario_battles

KEYS = {"model", "rating", "ci_lower", "ci_upper", "ci_method", "votes", "rank_ub", "elo"}


def test_it_lists_models_best_first_with_arena_rank_ratings_and_intervals():
    board = compute_leaderboard(scenario_battles("main"))
    ref = scenario("main")["bt"]
    expected = dict(zip(ref["competitors"], zip(ref["ratings"], ref["rating_lower"], ref["rating_upper"])))
    assert [row["model"] for row in board] == sorted(expected, key=lambda m: -expected[m][0])
    for row in board:
        assert set(row) == KEYS
        rating, lower, upper = expected[row["model"]]
        assert row["rating"] == pytest.approx(rating, rel=1e-6)
        assert row["ci_lower"] == pytest.approx(lower, rel=1e-4)
        assert row["ci_upper"] == pytest.approx(upper, rel=1e-4)
        assert row["ci_method"] == "sandwich"
    assert sum(row["votes"] for row in board) == 2 * len(scenario("main")["battles"])
    assert board[0]["rank_ub"] == 1
    assert [row["rank_ub"] for row in board] == sorted(row["rank_ub"] for row in board)
    json.dumps(board)  # plain Python numbers, ready for a JSONField


def test_it_bootstraps_reproducibly_from_the_seed():
    battles = scenario_battles("small")
    first = compute_leaderboard(battles, bootstrap_rounds=300, seed=1)
    again = compute_leaderboard(battles, bootstrap_rounds=300, seed=1)
    other = compute_leaderboard(battles, bootstrap_rounds=300, seed=2)
    assert first == again
    assert first != other
    assert {row["ci_method"] for row in first} == {"bootstrap"}
    sandwich = {row["model"]: row["rating"] for row in compute_leaderboard(battles)}
    assert {row["model"]: row["rating"] for row in first} == sandwich  # the MLE, not a bootstrap median


def test_it_pins_the_anchor_model_and_keeps_the_gaps():
    battles = scenario_battles("main")
    plain = {row["model"]: row for row in compute_leaderboard(battles)}
    for rounds in (0, 200):
        anchored = {row["model"]: row
                    for row in compute_leaderboard(battles, anchor=("model-04", 1114.0), bootstrap_rounds=rounds)}
        assert anchored["model-04"]["rating"] == pytest.approx(1114.0)
        assert anchored["model-04"]["ci_lower"] == pytest.approx(1114.0)
        assert anchored["model-04"]["ci_upper"] == pytest.approx(1114.0)
        gap = plain["model-00"]["rating"] - plain["model-04"]["rating"]
        assert anchored["model-00"]["rating"] - 1114.0 == pytest.approx(gap)
    with pytest.raises(KeyError, match="no battles"):
        compute_leaderboard(battles, anchor=("model-99", 1000.0))


def test_it_adds_style_controlled_ratings_when_asked():
    board = compute_leaderboard(scenario_battles("main"), style_control=True)
    ref = scenario("main")["style"]
    expected = dict(zip(ref["competitors"], ref["ratings"]))
    for row in board:
        assert set(row) == KEYS | {"style_rating", "style_ci_lower", "style_ci_upper", "style_rank_ub"}
        assert row["style_rating"] == pytest.approx(expected[row["model"]], rel=1e-4)
        assert row["style_ci_lower"] < row["style_rating"] < row["style_ci_upper"]
    booted = compute_leaderboard(scenario_battles("main"), style_control=True, bootstrap_rounds=30, seed=3)
    assert all(row["style_ci_lower"] < row["style_ci_upper"] for row in booted)


def test_it_needs_style_counts_for_style_control():
    battles = scenario_battles("small")
    plain = Battles(battles.models, battles.model_a, battles.model_b, battles.outcome)
    with pytest.raises(ValueError, match="style_a"):
        compute_leaderboard(plain, style_control=True)


def test_it_leaves_out_models_without_votes_and_handles_no_battles():
    battles = scenario_battles("small")
    with_idle = Battles(battles.models + ("idle-model",), battles.model_a, battles.model_b, battles.outcome)
    assert ([row["model"] for row in compute_leaderboard(with_idle)]
            == [row["model"] for row in compute_leaderboard(battles)])
    assert compute_leaderboard(battles.select(np.zeros(len(battles), dtype=bool))) == []


def test_it_runs_elo_in_timestamp_order():
    battles = scenario_battles("small")
    n = len(battles)
    forward = Battles(battles.models, battles.model_a, battles.model_b, battles.outcome,
                      {"tstamp": np.arange(n, dtype=float)})
    backward = Battles(battles.models, battles.model_a, battles.model_b, battles.outcome,
                       {"tstamp": -np.arange(n, dtype=float)})
    reversed_rows = battles.select(np.arange(n)[::-1])
    elo = lambda board: {row["model"]: row["elo"] for row in board}  # noqa: E731
    assert elo(compute_leaderboard(backward)) == elo(compute_leaderboard(reversed_rows))
    assert elo(compute_leaderboard(forward)) == elo(compute_leaderboard(battles))
