"""A small Bradley-Terry reward model over MiniLM features, trained from pairwise preferences.

reward(prompt, answer) = w · φ(prompt, answer), and P(winner beats loser) = σ(r_w − r_l).
φ is the answer embedding, its elementwise product with the prompt embedding (does the
answer fit this prompt?) and the log of the answer length. Training is L2-regularised
logistic regression on feature differences: convex, seconds on a CPU, no torch graph.

The file format is a NumPy .npz with no pickled objects, so loading a model file
cannot run code.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import expit

from .embeddings import DIMENSIONS, get_encoder
from .embeddings import NAME as ENCODER_NAME
from .weights_file import load_weights, save_weights

FEATURE_VERSION = 1
FEATURES = 2 * DIMENSIONS + 1
MIN_PAIRS = 5


def features(prompts: Sequence[str], answers: Sequence[str], *, encoder=None) -> np.ndarray:
    encoder = encoder or get_encoder()
    # Prompts repeat (every candidate, both sides of a pair); embed each distinct text once.
    texts = list(dict.fromkeys(list(prompts) + list(answers)))
    row = {text: i for i, text in enumerate(texts)}
    vectors = encoder.encode(texts)
    p = vectors[[row[t] for t in prompts]]
    a = vectors[[row[t] for t in answers]]
    length = np.array([[math.log1p(len(answer.split())) / 5.0] for answer in answers], dtype=np.float32)
    return np.hstack([a, p * a * math.sqrt(DIMENSIONS), length]).astype(np.float64)


@dataclass
class RewardModel:
    weights: np.ndarray
    encoder: str = ENCODER_NAME
    feature_version: int = FEATURE_VERSION
    trained_pairs: int = 0
    heldout_accuracy: float | None = None

    def score(self, prompts: Sequence[str], answers: Sequence[str], *, encoder=None) -> np.ndarray:
        if len(prompts) != len(answers):
            raise ValueError("score needs one prompt per answer.")
        if not answers:
            return np.zeros(0)
        return features(prompts, answers, encoder=encoder) @ self.weights

    def save(self, path: str | Path) -> Path:
        meta = {"encoder": self.encoder, "feature_version": self.feature_version,
                "trained_pairs": self.trained_pairs, "heldout_accuracy": self.heldout_accuracy}
        return save_weights(path, self.weights, meta)

    @classmethod
    def load(cls, path: str | Path) -> RewardModel:
        weights, meta = load_weights(path, what="a reward model file saved by train_reward_model")
        if meta.get("feature_version") != FEATURE_VERSION or meta.get("encoder") != ENCODER_NAME \
                or weights.shape != (FEATURES,):
            raise ValueError(f"{path} was trained with other features; retrain it with manage.py train_reward_model.")
        return cls(weights=weights, encoder=meta["encoder"], feature_version=meta["feature_version"],
                   trained_pairs=int(meta.get("trained_pairs") or 0), heldout_accuracy=meta.get("heldout_accuracy"))


def train_reward_model(pairs: Sequence[tuple[str, str, str]], *, heldout_fraction: float = 0.2,
                       l2: float = 1.0, seed: int = 0, encoder=None) -> tuple[RewardModel, float]:
    """Fit on (prompt, preferred answer, rejected answer) triples; return the model and its held-out accuracy.

    A seeded shuffle holds out `heldout_fraction` of the pairs (at least one); the returned
    model is the one fitted on the rest, so the accuracy describes it exactly.
    """
    pairs = _validated(pairs)
    if not 0 < heldout_fraction < 1:
        raise ValueError("heldout_fraction must be between 0 and 1.")
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    held = max(1, round(len(pairs) * heldout_fraction))
    test_idx, train_idx = order[:held], order[held:]

    prompts = [p for p, _, _ in pairs]
    winners = features(prompts, [w for _, w, _ in pairs], encoder=encoder)
    losers = features(prompts, [lo for _, _, lo in pairs], encoder=encoder)
    diffs = winners - losers

    weights = fit_bradley_terry(diffs[train_idx], l2=l2)
    margins = diffs[test_idx] @ weights
    # A tie (identical answers) is half right: the model cannot prefer either.
    accuracy = float(np.mean(np.where(margins > 0, 1.0, np.where(margins == 0, 0.5, 0.0))))
    model = RewardModel(weights=weights, trained_pairs=len(train_idx), heldout_accuracy=accuracy)
    return model, accuracy


def fit_bradley_terry(diffs: np.ndarray, *, l2: float = 1.0) -> np.ndarray:
    """Weights minimising Σ log(1 + exp(−w·d)) + l2/2 ‖w‖² over rows d = φ(winner) − φ(loser)."""
    # Every Django process imports this module (the admin's endpoint check reaches workers.search); only
    # training needs scipy.optimize, which costs about a second of start-up to import.
    from scipy.optimize import minimize  # noqa: PLC0415 (scipy.optimize: ~1 s of every manage.py start-up)

    def loss(w):
        margins = diffs @ w
        value = np.logaddexp(0.0, -margins).sum() + 0.5 * l2 * w @ w
        grad = -(diffs.T @ expit(-margins)) + l2 * w
        return value, grad

    result = minimize(loss, np.zeros(diffs.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return result.x


def _validated(pairs) -> list[tuple[str, str, str]]:
    cleaned = []
    for item in pairs:
        if not isinstance(item, (tuple, list)) or len(item) != 3 or not all(isinstance(s, str) for s in item):
            raise ValueError("Each pair must be (prompt, preferred answer, rejected answer), all text.")
        cleaned.append(tuple(item))
    if len(cleaned) < MIN_PAIRS:
        raise ValueError(f"Training a reward model needs at least {MIN_PAIRS} preference pairs, "
                         f"not {len(cleaned)}.")
    return cleaned
