import numpy as np
import pytest

from ratings.battle_arrays import OUTCOME_SCORE
from ratings.bradley_terry import rating_units, to_rating_scale
from ratings.style import (
    fit_style_bradley_terry,
    pair_frequency_weights,
    style_features,
    style_sandwich_covariance,
)
from tests.ratings.reference import in_reference_order, scenario, scenario_battles


def test_it_builds_relative_differences_then_standardises():
    a = np.array([[30.0, 0.0], [10.0, 2.0], [20.0, 0.0]])
    b = np.array([[10.0, 0.0], [30.0, 2.0], [20.0, 4.0]])
    raw = style_features(a, b, standardize=False)
    # (30 - 10) / 40 = 0.5, (10 - 30) / 40 = -0.5, 0; and 0/0 -> 0, 0 / 4 = 0, -4 / 4 = -1.
    np.testing.assert_allclose(raw, [[0.5, 0.0], [-0.5, 0.0], [0.0, -1.0]])
    standard = style_features(a, b)
    np.testing.assert_allclose(standard.mean(axis=0), 0.0, atol=1e-15)
    np.testing.assert_allclose(standard.std(axis=0), 1.0)


def test_it_weights_battles_by_inverse_pair_frequency_with_a_floor_of_50():
    a = np.array([0] * 60 + [1] * 10)
    b = np.array([1] * 60 + [2] * 10)
    w = pair_frequency_weights(a, b)
    # raw weights 1/60 for the busy pair, 1/50 (floor) for the other, then divided by their mean
    raw = np.array([1 / 60] * 60 + [1 / 50] * 10)
    np.testing.assert_allclose(w, raw / raw.mean())


def _reference_style_fit():
    battles = scenario_battles("main")
    a, b = battles.model_a, battles.model_b
    score = OUTCOME_SCORE[battles.outcome]
    features = style_features(battles.fields["style_a"], battles.fields["style_b"])
    weights = pair_frequency_weights(a, b)
    fit = fit_style_bradley_terry(a, b, score, features, battles.n_models, weights=weights)
    return fit, (a, b, score, features, weights)


def test_it_matches_arena_rank_contextual_bradley_terry():
    fit, (a, b, score, features, weights) = _reference_style_fit()
    ref = scenario("main")["style"]
    # arena-rank's L-BFGS stops on a relative loss change of 1e-9, leaving a gradient of ~2e-5;
    # Newton here converges fully, so the two optima differ by ~0.02 rating points.
    ours = in_reference_order(to_rating_scale(fit.theta), "main", "style")
    np.testing.assert_allclose(ours, ref["ratings"], rtol=1e-4)
    np.testing.assert_allclose(fit.beta, ref["coeffs"], atol=5e-5)
    cov = style_sandwich_covariance(fit, a, b, score, features, weights=weights)
    variances = in_reference_order(np.diag(cov)[: len(fit.theta)] * rating_units() ** 2, "main", "style")
    np.testing.assert_allclose(variances, ref["variances"], rtol=1e-3)


def test_it_reaches_a_zero_gradient():
    fit, (a, b, score, features, weights) = _reference_style_fit()
    z = fit.theta[a] - fit.theta[b] + features @ fit.beta
    r = weights * (1 / (1 + np.exp(-z)) - score) / len(score)
    grad_theta = np.bincount(a, r, len(fit.theta)) - np.bincount(b, r, len(fit.theta))
    grad_beta = features.T @ r + fit.beta
    assert np.abs(grad_theta).max() < 1e-12
    assert np.abs(grad_beta).max() < 1e-12


def test_it_separates_a_style_effect_from_strength():
    # Two equally strong models; whichever answer is longer wins more often.
    rng = np.random.default_rng(5)
    n = 40_000
    a = rng.integers(0, 2, n)
    b = 1 - a
    tokens = rng.integers(50, 500, size=(n, 2)).astype(float)
    zeros = np.zeros((n, 3))
    style_a, style_b = np.column_stack([tokens[:, 0], zeros]), np.column_stack([tokens[:, 1], zeros])
    raw = style_features(style_a, style_b, standardize=False)[:, 0]
    p = 1 / (1 + np.exp(-1.5 * raw))
    score = (rng.random(n) < p).astype(float)
    features = style_features(style_a, style_b)
    fit = fit_style_bradley_terry(a, b, score, features, 2, reg=0.0)
    assert fit.theta == pytest.approx([0.0, 0.0], abs=0.03)
    assert fit.beta[0] == pytest.approx(1.5 * raw.std(), rel=0.1)
    assert np.abs(fit.beta[1:]).max() < 1e-12  # constant features carry nothing



def test_a_start_from_plain_ratings_saves_steps_and_ends_at_the_same_optimum(monkeypatch):
    fit, (a, b, score, features, weights) = _reference_style_fit()
    steps = []
    solve = np.linalg.solve
    monkeypatch.setattr(np.linalg, "solve", lambda *args: steps.append(1) or solve(*args))
    fit_style_bradley_terry(a, b, score, features, len(fit.theta), weights=weights)
    from_zero = len(steps)
    steps.clear()
    start = fit.theta + 0.3 + np.random.default_rng(1).normal(0, 0.05, len(fit.theta))  # off, and not centred
    started = fit_style_bradley_terry(a, b, score, features, len(fit.theta), weights=weights,
                                      init=(start, np.zeros(features.shape[1])))
    assert len(steps) < from_zero
    np.testing.assert_allclose(started.theta, fit.theta, atol=1e-10)
    np.testing.assert_allclose(started.beta, fit.beta, atol=1e-10)
