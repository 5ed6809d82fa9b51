"""Agreement with the other candidates: mean cosine similarity of MiniLM embeddings.

An answer that many independent samples paraphrase is more likely right than an
outlier; this is the soft, free-text version of majority voting.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..accounting import Ledger
from ..candidates import Candidate, Problem
from ..embeddings import get_encoder


def consensus_scores(vectors: np.ndarray) -> list[float]:
    """Mean cosine similarity of each (L2-normalised) row to the other rows, clipped to [0, 1]."""
    n = len(vectors)
    if n < 2:
        return [0.5] * n
    similarity = vectors @ vectors.T
    mean_to_others = (similarity.sum(axis=1) - np.diag(similarity)) / (n - 1)
    return [float(v) for v in np.clip(mean_to_others, 0.0, 1.0)]


class ConsensusVerifier:
    name = "consensus"

    def __init__(self, encoder=None):
        self._encoder = encoder

    def score(self, problem: Problem, candidates: Sequence[Candidate], ledger: Ledger) -> list[float]:
        if len(candidates) < 2:
            return [0.5] * len(candidates)
        encoder = self._encoder or get_encoder()
        return consensus_scores(encoder.encode([c.text for c in candidates]))
