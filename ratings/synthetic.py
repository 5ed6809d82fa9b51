"""Seeded synthetic battles between models of known strength, for tests and benchmarks.

Ties are drawn so that model a's expected score is exactly P(a beats b) = sigmoid(theta_a -
theta_b): with tie probability t, a wins with probability p - t/2. A Bradley-Terry fit that
counts ties as half a win is then consistent for the true strengths.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from ratings.battle_arrays import Battles, Outcome, PairCounts
from ratings.ties import davidson_probabilities


def true_strengths(n_models: int, *, seed: int = 0, spread: float = 0.6) -> np.ndarray:
    """Natural-unit strengths, mean zero, sorted best first (spread 0.6 ~ 100 rating points)."""
    theta = np.sort(np.random.default_rng(seed).normal(0.0, spread, n_models))[::-1]
    return theta - theta.mean()


def model_names(n_models: int) -> tuple[str, ...]:
    return tuple(f"model-{i:03d}" for i in range(n_models))


def _outcome_probabilities(p_a: np.ndarray, tie_rate: float, both_bad_share: float) -> np.ndarray:
    """(..., 4) probabilities over Outcome codes with E[score of a] = p_a."""
    t = np.minimum(tie_rate, 2.0 * np.minimum(p_a, 1.0 - p_a))
    return np.stack([p_a - t / 2, 1.0 - p_a - t / 2, t * (1.0 - both_bad_share), t * both_bad_share], axis=-1)


def simulate_battles(
    theta: np.ndarray,
    n_battles: int,
    *,
    seed: int = 0,
    tie_rate: float = 0.15,
    both_bad_share: float = 0.35,
) -> Battles:
    """`n_battles` rows; each picks a uniformly random pair and a random side for each model."""
    rng = np.random.default_rng(seed)
    k = len(theta)
    a = rng.integers(0, k, n_battles)
    b = (a + rng.integers(1, k, n_battles)) % k
    probs = _outcome_probabilities(expit(theta[a] - theta[b]), tie_rate, both_bad_share)
    u = rng.random(n_battles)
    outcome = (u[:, None] > np.cumsum(probs, axis=1)[:, :3]).sum(axis=1)
    return Battles(
        models=model_names(k),
        model_a=a.astype(np.int32),
        model_b=b.astype(np.int32),
        outcome=outcome.astype(np.int8),
    )


def simulate_pair_counts(
    theta: np.ndarray,
    n_battles: int,
    *,
    seed: int = 0,
    tie_rate: float = 0.15,
    both_bad_share: float = 0.35,
) -> PairCounts:
    """The same distribution as `aggregate(simulate_battles(...))`, drawn directly as counts:
    O(pairs) memory and time whatever `n_battles` is."""
    rng = np.random.default_rng(seed)
    k = len(theta)
    lo, hi = np.triu_indices(k, 1)
    per_pair = rng.multinomial(n_battles, np.full(len(lo), 1.0 / len(lo)))
    probs = _outcome_probabilities(expit(theta[lo] - theta[hi]), tie_rate, both_bad_share)
    counts = np.array([rng.multinomial(n, p) for n, p in zip(per_pair, probs)], dtype=np.float64)
    keep = counts.sum(axis=1) > 0
    return PairCounts(n_models=k, pairs=np.stack([lo, hi], axis=1)[keep], counts=counts[keep])



def simulate_davidson_battles(theta: np.ndarray, nu: float, n_battles: int, *, seed: int = 0) -> Battles:
    """Battles whose ties follow the Davidson model (`ratings.ties`): likelier between close models."""
    rng = np.random.default_rng(seed)
    k = len(theta)
    a = rng.integers(0, k, n_battles)
    b = (a + rng.integers(1, k, n_battles)) % k
    p_a, p_b, _, _ = davidson_probabilities(theta[a] - theta[b], np.log(nu))
    u = rng.random(n_battles)
    outcome = np.where(u < p_a, Outcome.A, np.where(u < p_a + p_b, Outcome.B, Outcome.TIE))
    return Battles(models=model_names(k), model_a=a.astype(np.int32), model_b=b.astype(np.int32),
                   outcome=outcome.astype(np.int8))


def simulate_prompt_battles(
    n_battles: int, n_models: int, *, dims: int = 384, topics: int = 8, topic_spread: float = 0.6,
    seed: int = 0, tie_rate: float = 0.1,
) -> tuple[np.ndarray, Battles, np.ndarray]:
    """Battles over prompts with unit-length embeddings clustered in `topics` (as sentence embeddings
    cluster by subject); each model's strength is a global part plus a per-topic part drawn with standard
    deviation `topic_spread` (0: strengths do not depend on the prompt). Returns the embeddings, the
    battles and each battle's topic."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(topics, dims))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    topic = rng.integers(0, topics, n_battles)
    x = centres[topic] + 0.6 * rng.normal(size=(n_battles, dims)) / np.sqrt(dims)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    theta = rng.normal(0.0, 0.5, n_models) + rng.normal(0.0, topic_spread, (topics, n_models))[topic]
    a = rng.integers(0, n_models, n_battles)
    b = (a + rng.integers(1, n_models, n_battles)) % n_models
    rows = np.arange(n_battles)
    p_a = expit(theta[rows, a] - theta[rows, b])
    outcome = np.where(rng.random(n_battles) < tie_rate, Outcome.TIE,
                       np.where(rng.random(n_battles) < p_a, Outcome.A, Outcome.B))
    battles = Battles(models=model_names(n_models), model_a=a.astype(np.int32), model_b=b.astype(np.int32),
                      outcome=outcome.astype(np.int8))
    return x, battles, topic
