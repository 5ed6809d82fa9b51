"""Anomalous voters: clients whose votes are improbable given the current ratings.

The Chatbot Arena paper (Chiang et al. 2024, §5.2) flags users whose votes the fitted model finds
unlikely. Here, for each client, the log-likelihood of their decisive votes under the
Bradley-Terry ratings is compared with its expectation under the model: with p the predicted
probability of the outcome they chose, each vote contributes log p, whose mean and variance under
the model are p̄ log p̄ + (1-p̄) log(1-p̄) and p̄(1-p̄)·logit(p̄)². A client whose standardised
log-likelihood falls below the one-sided threshold (Bonferroni-corrected over the clients tested)
is flagged. Ties and "both bad" say nothing about which side is better and are skipped.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri  # the standard normal quantile; scipy.stats costs ~1 s to import

from ratings.battle_arrays import Outcome


def client_surprise(client: np.ndarray, model_a: np.ndarray, model_b: np.ndarray, outcome: np.ndarray,
                    ratings: np.ndarray, *, scale: float = 400.0, base: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Per client (indices 0..C-1): the z-score of the log-likelihood of their decisive votes, and
    how many such votes they cast. A strongly negative z means votes against the ratings."""
    decisive = (outcome == Outcome.A) | (outcome == Outcome.B)
    client, a, b, won_a = client[decisive], model_a[decisive], model_b[decisive], outcome[decisive] == Outcome.A
    n_clients = int(client.max()) + 1 if len(client) else 0
    p_a = 1.0 / (1.0 + base ** ((ratings[b] - ratings[a]) / scale))
    p_a = np.clip(p_a, 1e-9, 1 - 1e-9)
    p_chosen = np.where(won_a, p_a, 1 - p_a)
    loglik = np.log(p_chosen)
    expected = p_a * np.log(p_a) + (1 - p_a) * np.log(1 - p_a)
    variance = p_a * (1 - p_a) * np.log(p_a / (1 - p_a)) ** 2
    total = np.bincount(client, weights=loglik - expected, minlength=n_clients)
    spread = np.bincount(client, weights=variance, minlength=n_clients)
    votes = np.bincount(client, minlength=n_clients)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(spread > 0, total / np.sqrt(spread), 0.0)
    return z, votes


def flag_anomalous(z: np.ndarray, votes: np.ndarray, *, alpha: float = 0.01, min_votes: int = 10) -> np.ndarray:
    """Clients to flag: at least ``min_votes`` decisive votes and z below the Bonferroni-corrected
    one-sided ``alpha`` threshold over the clients tested."""
    tested = votes >= min_votes
    if not tested.any():
        return np.zeros(len(z), dtype=bool)
    threshold = ndtri(alpha / tested.sum())
    return tested & (z < threshold)
