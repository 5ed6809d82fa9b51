import numpy as np
import pytest

from ratings.battle_arrays import Outcome
from ratings.elo import online_elo


def test_it_updates_ratings_vote_by_vote_as_hand_computed():
    # Three models at 1000, K = 4, scale 400, base 10.
    # 1. A beats B: E_A = 1 / (1 + 10^0) = 0.5, so A = 1000 + 4 * 0.5 = 1002 and B = 998.
    # 2. B ties C: E_B = 1 / (1 + 10^((1000 - 998) / 400)) = 1 / (1 + 1.0115795) = 0.4971218;
    #    B += 4 * (0.5 - 0.4971218) = +0.0115128 -> 998.0115128, C -= 0.0115128 -> 999.9884872.
    # 3. C beats A: E_A = 1 / (1 + 10^((999.9884872 - 1002) / 400)) = 1 / (1 + 0.9884876) = 0.5028948;
    #    A += 4 * (0 - 0.5028948) = -2.0115791 -> 999.9884209, C += 2.0115791 -> 1002.0000663.
    ratings = online_elo(
        np.array([0, 1, 0]),
        np.array([1, 2, 2]),
        np.array([Outcome.A, Outcome.TIE, Outcome.B]),
        3,
    )
    assert ratings == pytest.approx([999.9884209, 998.0115128, 1002.0000663], abs=1e-6)


def test_it_counts_both_bad_like_a_tie():
    tie = online_elo(np.array([0]), np.array([1]), np.array([Outcome.TIE]), 2)
    both_bad = online_elo(np.array([0]), np.array([1]), np.array([Outcome.BOTH_BAD]), 2)
    assert tie.tolist() == both_bad.tolist() == [1000.0, 1000.0]


def test_it_depends_on_vote_order():
    a, b = np.array([0, 0]), np.array([1, 1])
    forward = online_elo(a, b, np.array([Outcome.A, Outcome.B]), 2)
    backward = online_elo(a, b, np.array([Outcome.B, Outcome.A]), 2)
    assert forward[0] != backward[0]
    assert forward.sum() == pytest.approx(2000.0)  # Elo is zero-sum


def test_it_continues_from_earlier_ratings():
    a = np.array([0, 1, 2, 0, 1, 0])
    b = np.array([1, 2, 0, 2, 0, 1])
    outcome = np.array([0, 1, 2, 3, 0, 1])
    whole = online_elo(a, b, outcome, 3)
    first = online_elo(a[:4], b[:4], outcome[:4], 3)
    assert np.allclose(online_elo(a[4:], b[4:], outcome[4:], 3, initial=first), whole, rtol=0, atol=1e-12)


def test_a_vote_of_weight_w_moves_the_ratings_w_as_far():
    # A beats B at 1000 each, K = 4: E_A = 0.5, so a whole vote moves A by 2 and a quarter vote by 0.5.
    whole = online_elo(np.array([0]), np.array([1]), np.array([Outcome.A]), 2)
    quarter = online_elo(np.array([0]), np.array([1]), np.array([Outcome.A]), 2, weights=np.array([0.25]))
    assert whole.tolist() == [1002.0, 998.0]
    assert quarter.tolist() == [1000.5, 999.5]
