"""The rigging tests (ratings/vote_surprise.py) on synthetic votes: honest voters are spared, an
attacker is caught from its first few dozen votes however it spreads them over cookies."""

import numpy as np
from scipy.special import expit

from ratings.battle_arrays import Outcome
from ratings.vote_surprise import (
    AGAINST_RATINGS,
    FRESH_IDENTITIES,
    HEAVY_UNDERDOG,
    ONE_MODEL,
    detect_rigging,
    sequential_evidence,
    surge_votes,
)

THETA = np.linspace(1.2, -1.2, 10)  # ten models, best first, ~420 rating points apart end to end


def honest_votes(n: int, n_actors: int, *, seed: int = 0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, len(THETA), n)
    b = (a + rng.integers(1, len(THETA), n)) % len(THETA)
    p_a = expit(THETA[a] - THETA[b])
    outcome = np.where(rng.random(n) < 0.15, Outcome.TIE, np.where(rng.random(n) < p_a, Outcome.A, Outcome.B))
    return rng.integers(0, n_actors, n), a, b, outcome


def attack_votes(n: int, target: int, *, seed: int = 1):
    """Battles that include the target (the attacker skips the others), each voted for the target."""
    rng = np.random.default_rng(seed)
    other = (target + rng.integers(1, len(THETA), n)) % len(THETA)
    target_is_a = rng.random(n) < 0.5
    a, b = np.where(target_is_a, target, other), np.where(target_is_a, other, target)
    return a, b, np.where(target_is_a, Outcome.A, Outcome.B)


def test_a_group_s_evidence_is_the_largest_log_likelihood_ratio_along_its_votes():
    tilt = np.array([np.log(3.0)])  # each vote for an even chance multiplies the ratio by 3 / 2 or 1 / 2
    evidence = sequential_evidence(np.array([0, 0, 1, 1, 1]), np.array([1, 1, 1, 0, 0]), np.full(5, 0.5), 3,
                                   tilts=tilt)
    np.testing.assert_allclose(evidence, [np.log(2.25), np.log(1.5), 0.0])


def test_honest_groups_seldom_reach_the_threshold_however_often_they_are_looked_at():
    rng = np.random.default_rng(3)
    groups, per_group = 20_000, 60
    p = rng.uniform(0.05, 0.95, groups * per_group)
    x = rng.random(len(p)) < p
    evidence = sequential_evidence(np.repeat(np.arange(groups), per_group), x, p, groups)
    assert (evidence >= np.log(1 / 0.01)).mean() <= 0.01  # Ville's inequality: at most alpha


def test_honest_voters_are_not_flagged():
    actor, a, b, outcome = honest_votes(200_000, 20_000)
    found = detect_rigging(actor, a, b, outcome, THETA)
    assert found.flagged.mean() <= 0.001


def test_an_attacker_voting_for_one_model_is_flagged_within_a_few_dozen_votes():
    actor, a, b, outcome = honest_votes(50_000, 5_000)
    target = 5  # mid-table: votes for it look ordinary one by one
    for n in (30, 300):
        ta, tb, tout = attack_votes(n, target)
        found = detect_rigging(np.r_[actor, np.full(n, 5_000)], np.r_[a, ta], np.r_[b, tb], np.r_[outcome, tout],
                               THETA)
        assert found.flagged[-n:].all()
        assert set(found.detector[-n:]) == {ONE_MODEL} and set(found.model[-n:]) == {target}
        assert found.flagged[:-n].mean() <= 0.001


def test_an_attacker_lifting_the_weakest_model_is_caught_by_the_likelihood_tests_alone():
    actor, a, b, outcome = honest_votes(50_000, 5_000)
    ta, tb, tout = attack_votes(40, len(THETA) - 1)
    votes = (np.r_[actor, np.full(40, 5_000)], np.r_[a, ta], np.r_[b, tb], np.r_[outcome, tout])
    for detector in (AGAINST_RATINGS, HEAVY_UNDERDOG):
        found = detect_rigging(*votes, THETA, detectors=(detector,))
        assert found.flagged[-40:].all() and set(found.detector[-40:]) == {detector}


def test_an_attacker_with_a_new_identity_for_every_vote_is_caught_as_a_surge():
    actor, a, b, outcome = honest_votes(50_000, 5_000)
    n = 400
    ta, tb, tout = attack_votes(n, 5)
    fresh = 5_000 + np.arange(n)  # nothing links these votes to each other
    found = detect_rigging(np.r_[actor, fresh], np.r_[a, ta], np.r_[b, tb], np.r_[outcome, tout], THETA)
    assert found.flagged[-n:].mean() >= 0.9
    assert set(found.detector[-n:][found.flagged[-n:]]) == {FRESH_IDENTITIES}
    assert found.flagged[:-n].mean() <= 0.001
    without = detect_rigging(np.r_[actor, fresh], np.r_[a, ta], np.r_[b, tb], np.r_[outcome, tout], THETA,
                             detectors=(AGAINST_RATINGS, HEAVY_UNDERDOG, ONE_MODEL))
    assert not without.flagged[-n:].any()  # the per-actor tests alone cannot see it


def test_a_surge_flags_only_the_votes_for_the_model_while_it_lasts():
    p = np.full(300, 0.5)
    x = np.r_[np.random.default_rng(0).random(100) < 0.5, np.ones(100, dtype=bool),
              np.random.default_rng(1).random(100) < 0.5]
    surge = surge_votes(x, p)
    assert surge[100:200].all()
    assert not surge[~x].any()
    assert surge[:100].sum() <= 10  # before: at most the run-up
    assert surge[200:].sum() <= 20 and not surge[250:].any()  # after: only while the evidence still grows
