import numpy as np
import pytest

from ratings.battle_arrays import aggregate
from ratings.bradley_terry import fit_bradley_terry, rating_units, to_rating_scale
from ratings.intervals import (
    anchored_covariance,
    bootstrap_thetas,
    normal_intervals,
    quantile_intervals,
    rank_upper_bound,
    sandwich_covariance,
)
from tests.ratings.reference import in_reference_order, scenario, scenario_battles


def _fit(name):
    counts = aggregate(scenario_battles(name))
    return counts, fit_bradley_terry(counts)


@pytest.mark.parametrize("name", ["main", "small"])
def test_it_matches_arena_rank_sandwich_intervals(name):
    counts, theta = _fit(name)
    cov = sandwich_covariance(counts, theta)
    lower, upper = normal_intervals(theta, np.diag(cov))
    ref = scenario(name)["bt"]
    np.testing.assert_allclose(in_reference_order(to_rating_scale(lower), name), ref["rating_lower"], rtol=1e-4)
    np.testing.assert_allclose(in_reference_order(to_rating_scale(upper), name), ref["rating_upper"], rtol=1e-4)
    # The widths themselves, which is the stricter comparison (the bounds sit near 1000).
    widths = in_reference_order(to_rating_scale(upper) - to_rating_scale(lower), name)
    np.testing.assert_allclose(widths, np.subtract(ref["rating_upper"], ref["rating_lower"]), rtol=1e-4)
    variances = in_reference_order(np.diag(cov) * rating_units() ** 2, name)
    np.testing.assert_allclose(variances, ref["variances"], rtol=1e-4)


def test_it_reproduces_a_bootstrap_from_its_seed():
    counts, theta = _fit("main")
    first = bootstrap_thetas(counts, theta, rounds=200, seed=7)
    again = bootstrap_thetas(counts, theta, rounds=200, seed=7)
    chunked = bootstrap_thetas(counts, theta, rounds=200, seed=7, max_cells_per_chunk=5000)
    other = bootstrap_thetas(counts, theta, rounds=200, seed=8)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(chunked, first, atol=1e-12)
    assert not np.allclose(first, other)


def test_it_bootstraps_intervals_as_wide_as_the_sandwich_and_arena_rank_bootstrap():
    counts, theta = _fit("main")
    samples = to_rating_scale(bootstrap_thetas(counts, theta, rounds=1000, seed=0))
    lower, upper = quantile_intervals(samples)
    boot_width = in_reference_order(upper - lower, "main")
    sandwich = scenario("main")["bt"]
    sandwich_width = np.subtract(sandwich["rating_upper"], sandwich["rating_lower"])
    # 4,000 battles: the two methods agree to within Monte Carlo and asymptotic error.
    np.testing.assert_allclose(boot_width, sandwich_width, rtol=0.1)
    # arena-rank's own bootstrap (100 rounds in the fixture, its RNG) is noisier still.
    theirs = scenario("main")["bt_bootstrap"]
    their_width = np.subtract(theirs["rating_upper"], theirs["rating_lower"])
    np.testing.assert_allclose(boot_width, their_width, rtol=0.35)
    assert np.mean(boot_width / their_width) == pytest.approx(1.0, abs=0.15)
    # Each resample is refitted to its own optimum with mean zero, like arena-rank's.
    assert np.abs(samples.mean(axis=1) - 1000.0).max() < 1e-9


def test_it_ranks_a_model_below_only_those_clearly_above_it():
    # Intervals: A [10, 20], B [8, 18], C [0, 9], D [-5, 1]
    lower = np.array([10.0, 8.0, 0.0, -5.0])
    upper = np.array([20.0, 18.0, 9.0, 1.0])
    # A, B: nobody's lower bound exceeds 20 or 18 -> rank 1 each.
    # C: A's lower bound 10 exceeds C's upper bound 9, B's 8 does not -> rank 2.
    # D: A's 10 and B's 8 exceed D's upper bound 1, C's 0 does not -> rank 3.
    assert rank_upper_bound(lower, upper).tolist() == [1, 1, 2, 3]


def test_it_gives_the_anchor_model_zero_width_and_others_their_gap_uncertainty():
    counts, theta = _fit("main")
    cov = sandwich_covariance(counts, theta)
    anchored = anchored_covariance(cov, 3)
    assert anchored[3, 3] == pytest.approx(0.0, abs=1e-15)
    gap_var = cov[0, 0] - 2 * cov[0, 3] + cov[3, 3]
    assert anchored[0, 0] == pytest.approx(gap_var)
