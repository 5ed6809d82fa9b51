import numpy as np
import pytest

from ratings.battle_arrays import Battles, Outcome, aggregate
from ratings.pair_sampling import active_pair_weights, draw_pair, mix_weights, pair_score_variance


def test_it_weights_pairs_by_the_expected_shrinkage_of_their_standard_error():
    n = np.array([[0, 3, 8], [3, 0, 0], [8, 0, 0]], dtype=float)
    variance = np.full((3, 3), 0.25)
    weights = active_pair_weights(n, variance, prior_count=0.0 + 1e-12)
    # sqrt(0.25/3) - sqrt(0.25/4) = 0.0386751, sqrt(0.25/8) - sqrt(0.25/9) = 0.0101100,
    # the unseen pair (1, 2) gets by far the most.
    raw = {(0, 1): 0.5 / np.sqrt(3) - 0.5 / 2, (0, 2): 0.5 / np.sqrt(8) - 0.5 / 3}
    assert weights[0, 1] / weights[0, 2] == pytest.approx(raw[0, 1] / raw[0, 2])
    assert weights[1, 2] > 0.9
    assert weights.sum() == pytest.approx(1.0)
    assert np.all(np.tril(weights) == 0)


def test_it_prefers_uncertain_pairs_at_equal_counts():
    n = np.full((3, 3), 10.0)
    variance = np.array([[0, 0.25, 0.05], [0.25, 0, 0.05], [0.05, 0.05, 0]])
    weights = active_pair_weights(n, variance)
    assert weights[0, 1] > weights[0, 2] == pytest.approx(weights[1, 2])


def test_it_estimates_per_battle_variance_with_a_coin_flip_prior():
    battles = Battles(("a", "b", "c"), np.zeros(4, np.int32), np.ones(4, np.int32),
                      np.array([Outcome.A, Outcome.A, Outcome.B, Outcome.TIE], np.int8))
    var = pair_score_variance(aggregate(battles), prior_count=1.0)
    # scores 1, 1, 0, 0.5: mean 0.625, squared deviations sum 0.6875; (0.6875 + 0.25) / 5.
    assert var[0, 1] == pytest.approx((0.6875 + 0.25) / 5)
    assert var[1, 2] == 0.25  # unseen


def test_it_mixes_staff_weights_and_leaves_ineligible_models_out():
    active = np.triu(np.ones((3, 3)), 1)
    staff = np.array([1.0, 0.0, 1.0])  # staff only want model 0 against model 2
    mixed = mix_weights(active, staff=staff, staff_share=0.5)
    assert mixed[0, 2] == pytest.approx(0.5 / 3 + 0.5)
    assert mixed[0, 1] == pytest.approx(0.5 / 3)
    busy = mix_weights(active, eligible=np.array([True, True, False]))
    assert busy[0, 1] == pytest.approx(1.0)


def test_it_guarantees_new_models_a_share():
    active = np.zeros((4, 4))
    active[0, 1] = 1.0  # the active rule only wants the old pair
    mixed = mix_weights(active, new_models=np.array([False, False, False, True]), new_model_share=0.3)
    assert mixed[0, 3] + mixed[1, 3] + mixed[2, 3] == pytest.approx(0.3)
    assert mixed[0, 3] == pytest.approx(0.1)
    assert mixed.sum() == pytest.approx(1.0)


def test_it_draws_only_weighted_pairs_on_either_side():
    weights = np.zeros((3, 3))
    weights[0, 2] = 1.0
    rng = np.random.default_rng(0)
    draws = {draw_pair(weights, rng) for _ in range(50)}
    assert draws == {(0, 2), (2, 0)}
