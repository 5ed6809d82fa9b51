"""Prompt-to-leaderboard, light: a linear head over prompt embeddings that gives each model a strength
for a prompt, trained on votes, and the test that decides whether it may be published.

LMArena's P2L (2025) trains a language model to output Bradley-Terry coefficients per prompt. Here the
head is linear over an embedding x (MiniLM's 384 numbers, as the arena computes them):

    theta_m(x) = b_m + w_m . x,     P(a beats b | x) = sigmoid(theta_a(x) - theta_b(x)),

fitted by penalised maximum likelihood with ties as half a win (L2 `l2` on the w, which keeps a model
with few votes near its global strength). A head is worth publishing only when it predicts held-out
votes better than the global fit by more than chance: `held_out_comparison` says so when the mean
per-vote log-loss gain is above two standard errors of the paired differences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from ratings.battle_arrays import OUTCOME_SCORE, pair_counts_from_arrays
from ratings.bradley_terry import fit_bradley_terry, to_rating_scale

# The bias terms get a tiny penalty too: the likelihood only sees differences, this picks mean zero.
_BIAS_L2 = 1e-6


@dataclass(frozen=True)
class PromptHead:
    weights: np.ndarray  # (K, 1 + D): bias, then one weight per embedding dimension

    def strengths(self, embeddings: np.ndarray) -> np.ndarray:
        """theta (natural units) of every model for each prompt: (N, K) for (N, D), (K,) for (D,)."""
        x = np.asarray(embeddings, dtype=np.float64)
        return self.weights[:, 0] + x @ self.weights[:, 1:].T

    def ratings(self, embedding: np.ndarray, models: np.ndarray | None = None) -> np.ndarray:
        """The leaderboard for one prompt on the 400-point scale, mean 1000 over `models` (row indices;
        all K if None), in their order."""
        theta = self.strengths(embedding)
        if models is not None:
            theta = theta[np.asarray(models, dtype=int)]
        return to_rating_scale(theta - theta.mean())


def mean_embeddings(embeddings: np.ndarray, members: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The mean embedding of each group of prompts (a boolean mask over the rows of `embeddings`); a group
    with no prompt is left out. The head is linear in the embedding, so its strengths at a group's mean
    embedding are the mean of its per-prompt strengths over the group: the head's leaderboard for a
    category is `ratings(mean)` of the category's prompts, and needs only D numbers per category."""
    x = np.asarray(embeddings, dtype=np.float64)
    return {name: x[mask].mean(axis=0) for name, mask in members.items() if mask.any()}


def fit_prompt_head(
    embeddings: np.ndarray, model_a: np.ndarray, model_b: np.ndarray, outcome: np.ndarray, n_models: int,
    *, l2: float = 1.0, max_iter: int = 500,
) -> PromptHead:
    """Penalised MLE of the head (L-BFGS); `outcome` holds `Outcome` codes, ties count half."""
    x = np.column_stack([np.ones(len(embeddings)), np.asarray(embeddings, dtype=np.float64)])
    n, width = x.shape
    score = OUTCOME_SCORE[np.asarray(outcome)]
    # +1 at model a, -1 at model b: logits are rows of (X W^T) M^T, gradients M^T (g * X).
    sides = sp.csr_matrix((np.tile([1.0, -1.0], n), (np.repeat(np.arange(n), 2),
                                                      np.column_stack([model_a, model_b]).ravel())),
                          shape=(n, n_models))
    penalty = np.full(width, l2)
    penalty[0] = _BIAS_L2

    def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
        w = flat.reshape(n_models, width)
        margin = np.asarray(sides.multiply(x @ w.T).sum(axis=1)).ravel()
        value = float((np.logaddexp(0.0, margin) - score * margin).sum() + 0.5 * (penalty * w**2).sum())
        residual = expit(margin) - score
        grad = sides.T @ (residual[:, None] * x) + penalty * w
        return value, np.asarray(grad).ravel()

    start = np.zeros((n_models, width))
    start[:, 0] = _global_theta(model_a, model_b, outcome, n_models)
    # Imported here: ratings/models.py imports this module (PromptHead), so a top-level scipy.optimize
    # would add 0.2 s to every manage.py start-up; only the worker that trains heads needs it.
    from scipy.optimize import minimize  # noqa: PLC0415

    result = minimize(loss, start.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    return PromptHead(weights=result.x.reshape(n_models, width))


def _global_theta(model_a: np.ndarray, model_b: np.ndarray, outcome: np.ndarray, n_models: int) -> np.ndarray:
    counts = pair_counts_from_arrays(n_models, np.column_stack([model_a, model_b]), np.eye(4)[np.asarray(outcome)])
    return fit_bradley_terry(counts, l2=1e-6)


@dataclass(frozen=True)
class HeldOut:
    votes: int
    global_log_loss: float
    prompt_log_loss: float
    gain_standard_error: float

    @property
    def publish(self) -> bool:
        """Better than the global fit by more than two standard errors of the per-vote gain."""
        return self.global_log_loss - self.prompt_log_loss > 2.0 * self.gain_standard_error


def held_out_comparison(
    embeddings: np.ndarray, model_a: np.ndarray, model_b: np.ndarray, outcome: np.ndarray, n_models: int,
    *, held_out: float = 0.2, seed: int = 0, l2: float = 1.0,
) -> tuple[PromptHead, HeldOut]:
    """Fit the head and the global Bradley-Terry on a random (1 - held_out) of the votes; score both on the
    rest (mean per-vote log-loss, ties as a target of one half)."""
    embeddings, model_a, model_b, outcome = (np.asarray(v) for v in (embeddings, model_a, model_b, outcome))
    test = np.random.default_rng(seed).random(len(outcome)) < held_out
    train = ~test
    head = fit_prompt_head(embeddings[train], model_a[train], model_b[train], outcome[train], n_models, l2=l2)
    theta = _global_theta(model_a[train], model_b[train], outcome[train], n_models)
    score = OUTCOME_SCORE[outcome[test]]
    a, b = model_a[test], model_b[test]
    strengths = head.strengths(embeddings[test])
    rows = np.arange(len(a))
    per_vote_prompt = _log_loss(strengths[rows, a] - strengths[rows, b], score)
    per_vote_global = _log_loss(theta[a] - theta[b], score)
    gain = per_vote_global - per_vote_prompt
    return head, HeldOut(votes=int(test.sum()), global_log_loss=float(per_vote_global.mean()),
                         prompt_log_loss=float(per_vote_prompt.mean()),
                         gain_standard_error=float(gain.std(ddof=1) / np.sqrt(len(gain))))


def _log_loss(margin: np.ndarray, score: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, margin) - score * margin
