"""Scores candidates with a Bradley-Terry reward model trained from arena votes (see reward_model)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..accounting import Ledger
from ..candidates import Candidate, Problem
from ..reward_model import RewardModel
from ..weights_file import load_cached


class RewardVerifier:
    name = "reward"

    def __init__(self, model: RewardModel):
        self.model = model

    @classmethod
    def from_file(cls, path: str | Path | None) -> RewardVerifier:
        if not path:
            raise ValueError("The reward verifier needs reward_model: the path of a trained reward model.")
        return cls(load_cached(path, RewardModel.load))

    def score(self, problem: Problem, candidates: Sequence[Candidate], ledger: Ledger) -> list[float]:
        rewards = self.model.score([problem.question] * len(candidates), [c.text for c in candidates])
        # Bradley-Terry rewards have no zero point; only differences mean anything, so centre them.
        centred = rewards - rewards.mean()
        return [float(v) for v in 1.0 / (1.0 + np.exp(-centred))]
