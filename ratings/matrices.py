"""Pairwise matrices for the leaderboard's plots (rows and columns in model index order).

Entries with no battles are NaN, as is the diagonal, so averages skip them.
"""

from __future__ import annotations

import numpy as np

from ratings.battle_arrays import Outcome, PairCounts
from ratings.bradley_terry import BASE, SCALE


def battle_count_matrix(counts: PairCounts, *, include_ties: bool = True) -> np.ndarray:
    """Symmetric K x K number of battles per pair (an int-valued float matrix, zeros off-pairs)."""
    c = counts.counts
    n = c.sum(axis=1) if include_ties else c[:, Outcome.A] + c[:, Outcome.B]
    out = np.zeros((counts.n_models, counts.n_models))
    a, b = counts.pairs[:, 0], counts.pairs[:, 1]
    out[a, b] = n
    out[b, a] = n
    return out


def win_fraction_matrix(counts: PairCounts, *, include_ties: bool = False) -> np.ndarray:
    """Fraction of battles the row model won against the column model.

    Like FastChat's heatmap, ties are left out by default (wins / decisive battles); with
    `include_ties` a tie counts half and the denominator is every battle of the pair.
    """
    c = counts.counts
    a, b = counts.pairs[:, 0], counts.pairs[:, 1]
    if include_ties:
        won = c[:, Outcome.A] + 0.5 * (c[:, Outcome.TIE] + c[:, Outcome.BOTH_BAD])
        played = c.sum(axis=1)
        lost = played - won
    else:
        won, lost = c[:, Outcome.A], c[:, Outcome.B]
        played = won + lost
    out = np.full((counts.n_models, counts.n_models), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[a, b] = np.where(played > 0, won / played, np.nan)
        out[b, a] = np.where(played > 0, lost / played, np.nan)
    return out


def predicted_win_rate_matrix(ratings: np.ndarray, *, scale: float = SCALE, base: float = BASE) -> np.ndarray:
    """P(row beats column) under the rating model, for ratings on the published scale."""
    ratings = np.asarray(ratings, dtype=np.float64)
    out = 1.0 / (1.0 + base ** ((ratings[None, :] - ratings[:, None]) / scale))
    np.fill_diagonal(out, np.nan)
    return out


def average_win_rate(matrix: np.ndarray) -> np.ndarray:
    """Mean of each row over the opponents it has an entry for (NaN when none)."""
    valid = ~np.isnan(matrix)
    total = np.where(valid, matrix, 0.0).sum(axis=1)
    n = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / n, np.nan)
