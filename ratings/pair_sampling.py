"""Which pair of models to show next: active sampling weights (Chatbot Arena paper, section 5).

The paper samples pair (a, b) with probability

    P(a, b) ~ sqrt(S_ab / n_ab) - sqrt(S_ab / (n_ab + 1))

where n_ab is the number of battles of the pair so far and S_ab the variance of one battle's
outcome for that pair: the expected shrinkage of that pair's standard error from one more vote.
Pairs that are uncertain (close models, few votes) are favoured. Here `prior_count` is added to
n_ab so an unseen pair gets a large but finite weight.

Weights are pair matrices: entry [a, b] with a < b (upper triangle), zeros elsewhere, summing
to 1. `mix_weights` blends them with staff weights and guarantees new models a share.
"""

from __future__ import annotations

import numpy as np

from ratings.battle_arrays import OUTCOME_SCORE, PairCounts


def pair_score_variance(counts: PairCounts, *, prior_count: float = 1.0, prior_variance: float = 0.25) -> np.ndarray:
    """K x K variance of a's score (1, 1/2, 0) per battle of each pair, shrunk towards
    `prior_variance` (0.25, a coin flip's) with weight `prior_count`; unseen pairs get the prior."""
    k = counts.n_models
    c = counts.counts
    n = c.sum(axis=1)
    mean = (c @ OUTCOME_SCORE) / np.maximum(n, 1)
    squares = c @ (OUTCOME_SCORE**2)
    sum_sq_dev = squares - n * mean**2
    var = (sum_sq_dev + prior_count * prior_variance) / (n + prior_count)
    out = np.full((k, k), prior_variance)
    a, b = counts.pairs[:, 0], counts.pairs[:, 1]
    out[a, b] = var
    out[b, a] = var
    return out


def active_pair_weights(
    n: np.ndarray, variance: np.ndarray, *, prior_count: float = 1.0, eligible: np.ndarray | None = None
) -> np.ndarray:
    """The paper's weights for battle counts `n` (K x K, symmetric) and per-battle variances."""
    n = np.asarray(n, dtype=np.float64) + prior_count
    variance = np.asarray(variance, dtype=np.float64)
    weights = np.sqrt(variance / n) - np.sqrt(variance / (n + 1.0))
    return _normalise_pairs(weights, eligible)


def mix_weights(
    active: np.ndarray,
    *,
    staff: np.ndarray | None = None,
    staff_share: float = 0.0,
    new_models: np.ndarray | None = None,
    new_model_share: float = 0.0,
    eligible: np.ndarray | None = None,
) -> np.ndarray:
    """(1 - f) * ((1 - s) * active + s * staff) + f * uniform over the pairs with a new model.

    `staff` is either a K x K pair matrix or a per-model vector (pair weight w_a * w_b);
    `new_models` a boolean mask: pairs touching one of them get at least `new_model_share` of
    the probability in total, split evenly, however few votes the active rule would give them.
    """
    k = active.shape[0]
    mixed = _normalise_pairs(active, eligible)
    if staff is not None and staff_share > 0:
        staff = np.asarray(staff, dtype=np.float64)
        staff_pairs = np.outer(staff, staff) if staff.ndim == 1 else staff
        mixed = (1.0 - staff_share) * mixed + staff_share * _normalise_pairs(staff_pairs, eligible)
    if new_models is not None and new_model_share > 0 and np.any(new_models):
        new_models = np.asarray(new_models, dtype=bool)
        touches_new = new_models[:, None] | new_models[None, :]
        floor = _normalise_pairs(touches_new.astype(np.float64), eligible)
        if floor.sum() > 0:
            mixed = (1.0 - new_model_share) * mixed + new_model_share * floor
    return mixed / mixed.sum() if mixed.sum() > 0 else np.zeros((k, k))


def draw_pair(weights: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """Draw (a, b) from pair weights; the two sides are shuffled so neither is always left."""
    k = weights.shape[0]
    flat = np.asarray(weights, dtype=np.float64).ravel()
    index = int(rng.choice(k * k, p=flat / flat.sum()))
    a, b = divmod(index, k)
    return (a, b) if rng.random() < 0.5 else (b, a)


def _normalise_pairs(weights: np.ndarray, eligible: np.ndarray | None) -> np.ndarray:
    """Symmetrise, keep the upper triangle of eligible pairs, and normalise to sum 1."""
    weights = np.asarray(weights, dtype=np.float64)
    upper = np.triu(np.ones_like(weights, dtype=bool), k=1)
    out = np.where(upper, 0.5 * (weights + weights.T), 0.0)
    if eligible is not None:
        eligible = np.asarray(eligible, dtype=bool)
        out = np.where(eligible[:, None] & eligible[None, :], out, 0.0)
    out = np.where(np.isfinite(out), np.maximum(out, 0.0), 0.0)
    total = out.sum()
    return out / total if total > 0 else out
