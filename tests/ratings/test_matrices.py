import numpy as np
import pytest

from ratings.battle_arrays import Battles, Outcome, aggregate
from ratings.matrices import average_win_rate, battle_count_matrix, predicted_win_rate_matrix, win_fraction_matrix

NAN = np.nan


def _counts():
    # a-b: a wins 3, b wins 1, 2 ties; a-c: c wins 2 (c as model a); b and c never meet.
    a = [0] * 6 + [2, 2]
    b = [1] * 6 + [0, 0]
    outcome = [Outcome.A] * 3 + [Outcome.B, Outcome.TIE, Outcome.BOTH_BAD] + [Outcome.A] * 2
    return aggregate(Battles(("a", "b", "c"), np.array(a, np.int32), np.array(b, np.int32), np.array(outcome, np.int8)))


def test_it_counts_battles_per_pair_both_ways():
    np.testing.assert_array_equal(battle_count_matrix(_counts()), [[0, 6, 2], [6, 0, 0], [2, 0, 0]])
    np.testing.assert_array_equal(battle_count_matrix(_counts(), include_ties=False), [[0, 4, 2], [4, 0, 0], [2, 0, 0]])


def test_it_computes_win_fractions_without_ties_like_fastchat():
    # a beat b in 3 of 4 decisive battles; c beat a in both.
    np.testing.assert_allclose(
        win_fraction_matrix(_counts()), [[NAN, 0.75, 0.0], [0.25, NAN, NAN], [1.0, NAN, NAN]]
    )


def test_it_can_count_ties_as_half_in_win_fractions():
    # a vs b: (3 + 2 / 2) / 6 = 2/3.
    np.testing.assert_allclose(
        win_fraction_matrix(_counts(), include_ties=True), [[NAN, 2 / 3, 0.0], [1 / 3, NAN, NAN], [1.0, NAN, NAN]]
    )


def test_it_averages_win_rates_over_the_opponents_played():
    rates = average_win_rate(win_fraction_matrix(_counts()))
    np.testing.assert_allclose(rates, [0.375, 0.25, 1.0])


def test_it_predicts_win_rates_from_ratings():
    matrix = predicted_win_rate_matrix(np.array([1400.0, 1000.0]))
    assert matrix[0, 1] == pytest.approx(10 / 11)  # 400 points = 10:1 odds
    assert matrix[1, 0] == pytest.approx(1 / 11)
    assert np.isnan(matrix[0, 0])
