import numpy as np
import pytest

from ratings.battle_arrays import Battles, Outcome, aggregate
from ratings.bradley_terry import (
    anchor_ratings,
    fit_bradley_terry,
    fit_bradley_terry_batch,
    rating_units,
    to_rating_scale,
)
from ratings.synthetic import simulate_pair_counts, true_strengths
from tests.ratings.reference import in_reference_order, reference, scenario, scenario_battles


@pytest.mark.parametrize("name", ["main", "small"])
def test_it_matches_arena_rank_ratings(name):
    theta = fit_bradley_terry(aggregate(scenario_battles(name)))
    ours = in_reference_order(to_rating_scale(theta), name)
    theirs = np.array(scenario(name)["bt"]["ratings"])
    assert reference()["arena_rank_version"] == "0.1.1"
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_it_recovers_true_strengths_from_many_battles():
    theta = true_strengths(30, seed=3)
    counts = simulate_pair_counts(theta, 3_000_000, seed=4)
    fitted = fit_bradley_terry(counts)
    # With ~6,900 battles per pair the standard error is about 0.006 per model.
    assert np.abs(fitted - theta).max() < 0.03
    assert np.corrcoef(fitted, theta)[0, 1] > 0.999


def test_it_returns_mean_zero_ratings_so_the_published_mean_is_1000():
    theta = fit_bradley_terry(aggregate(scenario_battles("main")))
    assert theta.mean() == pytest.approx(0.0, abs=1e-12)
    assert to_rating_scale(theta).mean() == pytest.approx(1000.0)


def test_it_reads_a_rating_gap_of_400_as_ten_to_one_odds():
    # 10 wins, 1 loss, 0 ties: the MLE gap is ln 10 natural units = 400 points.
    battles = Battles(
        models=("a", "b"),
        model_a=np.zeros(11, dtype=np.int32),
        model_b=np.ones(11, dtype=np.int32),
        outcome=np.array([Outcome.A] * 10 + [Outcome.B], dtype=np.int8),
    )
    ratings = to_rating_scale(fit_bradley_terry(aggregate(battles)))
    assert ratings[0] - ratings[1] == pytest.approx(400.0, abs=1e-6)
    assert ratings == pytest.approx([1200.0, 800.0], abs=1e-6)
    assert rating_units() == pytest.approx(400 / np.log(10))


def test_it_counts_ties_and_both_bad_as_half_a_win():
    # 2 wins + 2 ties each way is an even record: equal ratings.
    outcomes = [Outcome.A, Outcome.A, Outcome.TIE, Outcome.BOTH_BAD, Outcome.B, Outcome.B]
    battles = Battles(("a", "b"), np.zeros(6, np.int32), np.ones(6, np.int32), np.array(outcomes, np.int8))
    assert fit_bradley_terry(aggregate(battles)) == pytest.approx([0.0, 0.0], abs=1e-12)


def test_it_gives_the_same_fit_for_mirrored_battles():
    battles = scenario_battles("small")
    mirrored = Battles(
        models=battles.models,
        model_a=battles.model_b,
        model_b=battles.model_a,
        outcome=np.array([Outcome.B, Outcome.A, Outcome.TIE, Outcome.BOTH_BAD], np.int8)[battles.outcome],
    )
    np.testing.assert_allclose(fit_bradley_terry(aggregate(mirrored)), fit_bradley_terry(aggregate(battles)),
                               atol=1e-12)


def test_it_fits_a_batch_like_separate_fits():
    counts = aggregate(scenario_battles("main"))
    scaled = np.stack([counts.n, 2 * counts.n])
    scores = np.stack([counts.score, 2 * counts.score])
    batch = fit_bradley_terry_batch(counts.pairs, scaled, scores, counts.n_models)
    single = fit_bradley_terry(counts)
    np.testing.assert_allclose(batch[0], single, atol=1e-10)
    np.testing.assert_allclose(batch[1], single, atol=1e-10)  # doubling every count keeps the MLE


def test_it_keeps_each_disconnected_group_centred_and_unplayed_models_at_zero():
    # Models 0-1 and 2-3 never meet; model 4 never plays.
    battles = Battles(
        models=("a", "b", "c", "d", "e"),
        model_a=np.array([0, 0, 1, 2, 2, 3], np.int32),
        model_b=np.array([1, 1, 0, 3, 3, 2], np.int32),
        # a beats b twice and loses once; d beats c twice (once as model b) and loses once.
        outcome=np.array([Outcome.A, Outcome.A, Outcome.A, Outcome.A, Outcome.B, Outcome.A], np.int8),
    )
    theta = fit_bradley_terry(aggregate(battles))
    assert theta[0] + theta[1] == pytest.approx(0.0, abs=1e-12)
    assert theta[2] + theta[3] == pytest.approx(0.0, abs=1e-12)
    assert theta[0] - theta[1] == pytest.approx(np.log(2.0))
    assert theta[2] - theta[3] == pytest.approx(-np.log(2.0))
    assert theta[4] == 0.0


def test_it_pins_the_anchor_model_to_its_rating():
    ratings = np.array([[1010.0, 990.0, 1000.0], [1020.0, 980.0, 1000.0]])
    anchored = anchor_ratings(ratings, 1, 1114.0)
    assert anchored[:, 1].tolist() == [1114.0, 1114.0]
    assert anchored[0].tolist() == [1134.0, 1114.0, 1124.0]


def test_it_stops_with_a_finite_rating_for_a_model_that_never_lost():
    # No MLE exists (model a won all 3 of its battles); the fit must still end, far above the rest.
    battles = Battles(
        models=("a", "b", "c"),
        model_a=np.array([0, 0, 0, 1, 1, 2], np.int32),
        model_b=np.array([1, 2, 1, 2, 2, 1], np.int32),
        outcome=np.array([Outcome.A, Outcome.A, Outcome.A, Outcome.A, Outcome.B, Outcome.A], np.int8),
    )
    counts = aggregate(battles)
    theta = fit_bradley_terry(counts)
    assert np.isfinite(theta).all()
    assert theta[0] - theta[1:].max() > 15  # more than 2,600 points: "unbounded", not a real gap
    # Between themselves b beat c once and lost twice; a's battles no longer pull on them.
    assert theta[1] - theta[2] == pytest.approx(np.log(1 / 2), abs=1e-6)
    assert theta.mean() == pytest.approx(0.0, abs=1e-9)
