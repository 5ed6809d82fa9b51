"""Rigging tests: votes that are improbable given the ratings, judged per actor from the first vote.

The Chatbot Arena paper (Chiang et al. 2024, §5.2) and Min et al. 2025 ("Improving Your Model
Ranking on Chatbot Arena by Vote Rigging", the per-user likelihood test and the upset filter they
evaluate) flag voters whose votes the fitted Bradley-Terry model finds unlikely. A test that
waits for ten votes per cookie never sees a script that changes cookie every vote, and one that
is looked at again after every vote must not cry wolf more often for being looked at. So:

- Votes are pooled per *actor* (ratings/actors.py) and each test is a *test martingale*: for a
  vote with outcome x (0/1) whose probability under the ratings is p, the likelihood ratio of a
  voter who over-picks that outcome by log-odds t is exp(t x) / (1 - p + p e^t); the product over
  the actor's votes, averaged over a few t, has mean 1 under honest voting at every step, so by
  Ville's inequality it ever reaches 1/alpha with probability at most alpha. The tests can then
  run after every vote, from the first one, and flag an actor the moment the evidence is enough.
- *against the ratings* (Min et al.'s per-user likelihood test): x = the voter chose the lower
  rated side. *heavy underdog* (their upset filter): only battles where one side's chance is
  below UNDERDOG; x = the voter chose it. One upset is nothing; upsets in bulk are.
- *one model* (the targeted attack: identify the target from its answer, vote for it): per actor
  and model, over the battles the model was in, x = the voter chose it. Bonferroni over models.
- *fresh identities* (an attacker whose every vote comes from a new address): per model, over the
  votes of actors with at most FRESH_VOTES votes, a CUSUM of the same likelihood ratio (restarted
  whenever the evidence falls back to nothing) finds a surge of fresh votes for one model; the
  votes for it in the surge are flagged, not the model's other votes.

Ties and "both bad" say nothing about which side is better and are skipped. Probabilities are
kept within [P_FLOOR, 1 - P_FLOOR], so ratings fitted on little data cannot make a vote look
impossible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logsumexp

from ratings.battle_arrays import Outcome

TILTS = np.array([0.5, 1.0, 2.0, 3.0])  # log-odds by which a rigger over-picks, mixed with equal weight
UNDERDOG = 0.25
P_FLOOR = 0.02
FRESH_VOTES = 2
FRESH_THRESHOLD = 16.0  # CUSUM alarm level (natural log) per model: ~ e^16 votes between false alarms

AGAINST_RATINGS = "against the ratings"
HEAVY_UNDERDOG = "heavy underdog"
ONE_MODEL = "one model"
FRESH_IDENTITIES = "fresh identities"
DETECTORS = (AGAINST_RATINGS, HEAVY_UNDERDOG, ONE_MODEL, FRESH_IDENTITIES)


def win_probability(theta: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """P(a beats b) under natural-unit Bradley-Terry strengths, kept off 0 and 1."""
    return np.clip(expit(theta[a] - theta[b]), P_FLOOR, 1 - P_FLOOR)


def log_increments(x: np.ndarray, p: np.ndarray, tilts: np.ndarray = TILTS) -> np.ndarray:
    """(len(tilts), N): each vote's log likelihood ratio under each tilt."""
    t = tilts[:, None]
    return t * x[None, :] - np.log1p(p[None, :] * np.expm1(t))


def sequential_evidence(group: np.ndarray, x: np.ndarray, p: np.ndarray, n_groups: int,
                        tilts: np.ndarray = TILTS) -> np.ndarray:
    """Per group (0..n_groups-1), the largest log of the mixture test martingale over the group's
    votes, taken in the order given (0 for a group without votes). Under honest voting each
    group's value reaches log(1/alpha) with probability at most alpha."""
    evidence = np.zeros(n_groups)
    if not len(group):
        return evidence
    order = np.argsort(group, kind="stable")
    g = group[order]
    steps = log_increments(x[order].astype(np.float64), p[order], tilts)
    totals = np.cumsum(steps, axis=1)
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    before = np.where(starts > 0, totals[:, np.maximum(starts - 1, 0)], 0.0)  # (tilts, groups)
    run = np.cumsum(np.r_[False, g[1:] != g[:-1]])
    within = totals - before[:, run]
    mixture = logsumexp(within, axis=0) - np.log(len(tilts))
    evidence[g[starts]] = np.maximum(np.maximum.reduceat(mixture, starts), 0.0)
    return evidence


def surge_votes(x: np.ndarray, p: np.ndarray, *, threshold: float = FRESH_THRESHOLD,
                tilts: np.ndarray = TILTS) -> np.ndarray:
    """Which votes (in the order given) are part of a surge: a CUSUM of each tilt's likelihood
    ratio (the running sum less its running minimum) that rises above ``threshold`` + log(tilts);
    the votes with x = 1 from where that run started to its peak."""
    flagged = np.zeros(len(x), dtype=bool)
    if not len(x):
        return flagged
    level = threshold + np.log(len(tilts))
    for steps in log_increments(x.astype(np.float64), p, tilts):
        total = np.cumsum(steps)
        floor = np.minimum.accumulate(np.minimum(total, 0.0))
        cusum = total - floor
        segment = np.cumsum(cusum == 0.0)  # a new segment after every return to zero
        alarmed = np.zeros(int(segment.max()) + 1, dtype=bool)
        alarmed[segment[cusum >= level]] = True
        peak_value = np.full(len(alarmed), -np.inf)
        np.maximum.at(peak_value, segment, cusum)
        peak_at = np.full(len(alarmed), -1)
        np.maximum.at(peak_at, segment, np.where(cusum == peak_value[segment], np.arange(len(x)), -1))
        # The surge runs from the segment's start to its peak; what follows is the evidence fading.
        flagged |= alarmed[segment] & (cusum > 0) & (np.arange(len(x)) <= peak_at[segment]) & (x == 1)
    return flagged


@dataclass(frozen=True)
class RiggingFindings:
    """Per vote: flagged or not, the detector that flagged it ("" when none), that detector's
    evidence (natural log) and the model it concerns (-1: none); per actor test: each actor's
    evidence and the threshold it was held to."""

    flagged: np.ndarray
    detector: np.ndarray
    evidence: np.ndarray
    model: np.ndarray
    actor_evidence: dict[str, np.ndarray]
    thresholds: dict[str, float]


def detect_rigging(actor: np.ndarray, model_a: np.ndarray, model_b: np.ndarray, outcome: np.ndarray,
                   theta: np.ndarray, *, alpha: float = 1e-3,
                   detectors: tuple[str, ...] = DETECTORS) -> RiggingFindings:
    """Run the rigging tests over votes in the order cast. ``actor``: each vote's actor
    (ratings/actors.py); ``theta``: natural-unit strengths of the models. ``alpha`` bounds, per
    honest actor, the chance that any actor test ever flags it (split evenly over the actor tests
    and, for "one model", over the models)."""
    actor = np.asarray(actor, dtype=np.int64)
    n_actors = int(actor.max()) + 1 if len(actor) else 0
    n_models = len(theta)
    decisive = np.flatnonzero((outcome == Outcome.A) | (outcome == Outcome.B))
    who, a, b = actor[decisive], model_a[decisive], model_b[decisive]
    chose_a = outcome[decisive] == Outcome.A
    p_a = win_probability(theta, a, b)
    # The most specific reason first: "one model" names what the actor voted for.
    actor_tests = [d for d in (ONE_MODEL, HEAVY_UNDERDOG, AGAINST_RATINGS) if d in detectors]
    share = alpha / max(len(actor_tests), 1)
    thresholds = {AGAINST_RATINGS: np.log(1 / share), HEAVY_UNDERDOG: np.log(1 / share),
                  ONE_MODEL: np.log(max(n_models, 1) / share), FRESH_IDENTITIES: FRESH_THRESHOLD}

    evidence: dict[str, np.ndarray] = {}
    a_is_lower = p_a < 0.5
    if AGAINST_RATINGS in detectors:
        upset = chose_a == a_is_lower
        evidence[AGAINST_RATINGS] = sequential_evidence(who, upset, np.minimum(p_a, 1 - p_a), n_actors)
    if HEAVY_UNDERDOG in detectors:
        heavy = np.minimum(p_a, 1 - p_a) < UNDERDOG
        upset = chose_a == a_is_lower
        evidence[HEAVY_UNDERDOG] = sequential_evidence(who[heavy], upset[heavy],
                                                       np.minimum(p_a, 1 - p_a)[heavy], n_actors)
    target_model = np.full(n_actors, -1)
    if ONE_MODEL in detectors and n_models:
        # Each decisive vote is a trial for both its models: did the voter pick this one?
        order = np.r_[np.arange(len(decisive)), np.arange(len(decisive))]
        keys = np.r_[who * n_models + a, who * n_models + b]
        picked = np.r_[chose_a, ~chose_a]
        chance = np.r_[p_a, 1 - p_a]
        sequence = np.lexsort((order, keys))  # per (actor, model), votes in the order cast
        pairs, pair = np.unique(keys[sequence], return_inverse=True)  # only the pairs that occur
        per_pair = sequential_evidence(pair, picked[sequence], chance[sequence], len(pairs))
        best = np.lexsort((-per_pair, pairs // n_models))  # per actor, its strongest model first
        first = best[np.r_[True, (pairs // n_models)[best][1:] != (pairs // n_models)[best][:-1]]]
        evidence[ONE_MODEL] = np.zeros(n_actors)
        evidence[ONE_MODEL][pairs[first] // n_models] = per_pair[first]
        target_model[pairs[first] // n_models] = pairs[first] % n_models

    flagged_actor = np.zeros(n_actors, dtype=bool)
    actor_detector = np.full(n_actors, "", dtype=object)
    actor_score = np.zeros(n_actors)
    for name in actor_tests:
        hit = (evidence[name] >= thresholds[name]) & ~flagged_actor
        actor_detector[hit], actor_score[hit] = name, evidence[name][hit]
        flagged_actor |= hit
    flagged, detector, score = flagged_actor[actor], actor_detector[actor], actor_score[actor]
    model = np.where(detector == ONE_MODEL, target_model[actor], -1)

    if FRESH_IDENTITIES in detectors and len(decisive):
        votes_per_actor = np.bincount(actor, minlength=n_actors)
        fresh = (votes_per_actor[who] <= FRESH_VOTES) & ~flagged_actor[who]
        for m in range(n_models):
            involved = np.flatnonzero(fresh & ((a == m) | (b == m)))
            picked = np.where(a[involved] == m, chose_a[involved], ~chose_a[involved])
            chance = np.where(a[involved] == m, p_a[involved], 1 - p_a[involved])
            surge = decisive[involved[surge_votes(picked, chance)]]
            new = surge[~flagged[surge]]
            flagged[new], detector[new], model[new] = True, FRESH_IDENTITIES, m
            score[new] = thresholds[FRESH_IDENTITIES]
    return RiggingFindings(flagged=flagged, detector=detector, evidence=score, model=model,
                           actor_evidence=evidence, thresholds=thresholds)


def detect_rigging_refit(actor: np.ndarray, model_a: np.ndarray, model_b: np.ndarray, outcome: np.ndarray,
                         strengths: Callable[[np.ndarray], np.ndarray], *, alpha: float = 1e-3,
                         detectors: tuple[str, ...] = DETECTORS) -> RiggingFindings:
    """``detect_rigging`` against ratings fitted without the votes it flags. ``strengths(mask)``
    returns the natural-unit strengths fitted on the counted votes outside ``mask`` (a boolean per
    vote): the tests run once against all, and once more against the ratings without what the first
    pass flagged, because an attack's own votes lift its target and make themselves look ordinary."""
    nothing = np.zeros(len(actor), dtype=bool)
    findings = detect_rigging(actor, model_a, model_b, outcome, strengths(nothing), alpha=alpha, detectors=detectors)
    if findings.flagged.any():
        findings = detect_rigging(actor, model_a, model_b, outcome, strengths(findings.flagged), alpha=alpha,
                                  detectors=detectors)
    return findings
