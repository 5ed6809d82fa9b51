"""Scores candidates with an outcome verifier trained on labelled samples (see outcome_model)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from ..accounting import Ledger
from ..candidates import Candidate, Problem
from ..outcome_model import OutcomeModel

_cache: dict[tuple[str, int], OutcomeModel] = {}
_lock = threading.Lock()


class OutcomeVerifier:
    name = "outcome"

    def __init__(self, model: OutcomeModel):
        self.model = model

    @classmethod
    def from_file(cls, path: str | Path | None) -> OutcomeVerifier:
        if not path:
            raise ValueError("The outcome verifier needs outcome_model: the path of a trained outcome verifier.")
        path = Path(path)
        key = (str(path.resolve()), path.stat().st_mtime_ns)
        with _lock:
            if key not in _cache:
                _cache[key] = OutcomeModel.load(path)
            return cls(_cache[key])

    def score(self, problem: Problem, candidates: Sequence[Candidate], ledger: Ledger) -> list[float]:
        # A probability of being right: on an absolute scale, unlike the reward model's margins.
        probabilities = self.model.probability([problem.question] * len(candidates), [c.text for c in candidates])
        return [float(p) for p in probabilities]
