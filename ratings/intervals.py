"""95% intervals for Bradley-Terry ratings: sandwich (robust) and bootstrap, and the UB rank.

Everything here is in natural log-odds units; `bradley_terry.to_rating_scale` converts.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, ndtri  # ndtri: the standard normal quantile (scipy.stats costs ~1 s to import)

from ratings.battle_arrays import Outcome, PairCounts
from ratings.bradley_terry import fit_bradley_terry_batch, laplacian


def sandwich_covariance(
    counts: PairCounts, theta: np.ndarray, *, hessian_reg: float = 1e-5, l2: float = 0.0
) -> np.ndarray:
    """Robust covariance H^-1 G H^-1 of theta at the MLE (K x K).

    H is the Hessian of the total negative log-likelihood and G the sum over battles of the outer
    products of their score vectors. As in arena-rank, `hessian_reg` times the number of battles
    is added to H's diagonal: H is singular along the constant direction, G is zero there, so the
    ridge only decides that this direction gets zero variance (and shrinks the others by about
    hessian_reg * N / eigenvalue, which is part of the published numbers). `l2`: the penalty of a
    regularised fit (`bradley_terry.fit_bradley_terry`), part of its Hessian.
    """
    a, b = counts.pairs[:, 0], counts.pairs[:, 1]
    p = expit(theta[a] - theta[b])
    c = counts.counts
    # Per battle the score is (outcome - p) (e_a - e_b): summed squares per pair, by outcome.
    ties = c[:, Outcome.TIE] + c[:, Outcome.BOTH_BAD]
    meat = c[:, Outcome.A] * (1.0 - p) ** 2 + c[:, Outcome.B] * p**2 + ties * (0.5 - p) ** 2
    k = counts.n_models
    hessian = laplacian(counts.pairs, counts.n * p * (1.0 - p), k) + (hessian_reg * counts.total + l2) * np.eye(k)
    grad_cov = laplacian(counts.pairs, meat, k)
    h_inv = np.linalg.inv(hessian)
    return h_inv @ grad_cov @ h_inv


def anchored_covariance(cov: np.ndarray, index: int) -> np.ndarray:
    """Covariance of theta - theta[index]: the uncertainty of each gap to the anchor model."""
    k = cov.shape[0]
    transform = np.eye(k)
    transform[:, index] -= 1.0
    return transform @ cov @ transform.T


def normal_intervals(
    theta: np.ndarray, variances: np.ndarray, *, significance: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """theta -/+ z * standard error, z = 1.96 for 95%."""
    width = ndtri(1.0 - significance / 2.0) * np.sqrt(np.maximum(variances, 0.0))
    return theta - width, theta + width


def bootstrap_thetas(
    counts: PairCounts,
    theta: np.ndarray,
    *,
    rounds: int = 1000,
    seed: int = 0,
    max_cells_per_chunk: int = 1_000_000,
    l2: float = 0.0,
) -> np.ndarray:
    """Refit on `rounds` multinomial resamples of the counts; returns theta samples (rounds, K).

    Resampling N battles with replacement only changes how many land in each (pair, outcome)
    cell, so the resample is one multinomial draw over the non-empty cells. Ties and "both bad"
    share a cell: the fit cannot tell them apart. All draws for a chunk are made at once and
    fitted as one batch, warm-started at the full-data MLE (so a resample converges in a few
    Newton steps). The same seed gives the same samples whatever the chunk size.
    """
    rng = np.random.default_rng(seed)
    c = counts.counts
    ties = c[:, Outcome.TIE] + c[:, Outcome.BOTH_BAD]
    cells = np.stack([c[:, Outcome.A], c[:, Outcome.B], ties], axis=1).ravel()
    nonzero = np.flatnonzero(cells)
    total = int(round(cells.sum()))
    pvals = cells[nonzero] / cells.sum()
    n_pairs, k = len(counts.pairs), counts.n_models
    per_round = max(3 * n_pairs, k * k, 1)
    chunk = max(1, min(rounds, max_cells_per_chunk // per_round))
    samples = np.empty((rounds, k))
    for start in range(0, rounds, chunk):
        size = min(chunk, rounds - start)
        draws = rng.multinomial(total, pvals, size=size)
        full = np.zeros((size, 3 * n_pairs))
        full[:, nonzero] = draws
        full = full.reshape(size, n_pairs, 3)
        n = full.sum(axis=2)
        score = full[:, :, 0] + 0.5 * full[:, :, 2]
        samples[start:start + size] = fit_bradley_terry_batch(counts.pairs, n, score, k, init=theta[None, :], l2=l2)
    return samples


def quantile_intervals(samples: np.ndarray, *, significance: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals over axis 0 (linear interpolation, as numpy, pandas and jax do)."""
    lower, upper = np.quantile(samples, [significance / 2.0, 1.0 - significance / 2.0], axis=0)
    return lower, upper


def rank_upper_bound(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Rank (UB): 1 + the number of models whose lower bound exceeds this model's upper bound."""
    lower = np.asarray(lower)
    upper = np.asarray(upper)
    return 1 + (lower[None, :] > upper[:, None]).sum(axis=1)
