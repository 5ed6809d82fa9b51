"""Scores candidates with an outcome verifier trained on labelled samples (see outcome_model)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..accounting import Ledger
from ..candidates import Candidate, Problem
from ..outcome_model import OutcomeModel
from ..weights_file import load_cached


class OutcomeVerifier:
    name = "outcome"

    def __init__(self, model: OutcomeModel):
        self.model = model

    @classmethod
    def from_file(cls, path: str | Path | None) -> OutcomeVerifier:
        if not path:
            raise ValueError("The outcome verifier needs outcome_model: the path of a trained outcome verifier.")
        return cls(load_cached(path, OutcomeModel.load))

    def score(self, problem: Problem, candidates: Sequence[Candidate], ledger: Ledger) -> list[float]:
        # A probability of being right: on an absolute scale, unlike the reward model's margins.
        probabilities = self.model.probability([problem.question] * len(candidates), [c.text for c in candidates])
        return [float(p) for p in probabilities]
