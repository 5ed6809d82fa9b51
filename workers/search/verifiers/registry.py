"""Verifiers by name, and the weighted mean a search ranks candidates by."""


from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

from ..accounting import Ledger
from ..candidates import Candidate, Problem
from .checker import CheckerVerifier
from .consensus import ConsensusVerifier
from .grounding import GroundingVerifier
from .loglik import LoglikVerifier
from .outcome import OutcomeVerifier
from .reward import RewardVerifier


class Verifier(Protocol):
    name: str

    def score(self, problem: Problem, candidates: Sequence[Candidate], ledger: Ledger) -> list[float]: ...


def build_verifiers(weights: dict[str, float], *, loaded=None, reward_model: str | None = None,
                    outcome_model: str | None = None) -> list[tuple[Verifier, float]]:
    built: list[tuple[Verifier, float]] = []
    for name, weight in weights.items():
        if name == "loglik":
            if loaded is None:
                raise ValueError("The loglik verifier needs the loaded base model.")
            built.append((LoglikVerifier(loaded), weight))
        elif name == "consensus":
            built.append((ConsensusVerifier(), weight))
        elif name == "reward":
            built.append((RewardVerifier.from_file(reward_model), weight))
        elif name == "outcome":
            built.append((OutcomeVerifier.from_file(outcome_model), weight))
        elif name == "grounding":
            built.append((GroundingVerifier(), weight))
        elif name == "checker":
            built.append((CheckerVerifier(), weight))
        else:
            raise ValueError(f"Unknown verifier {name!r}.")
    return built


def score_candidates(problem: Problem, candidates: Sequence[Candidate],
                     verifiers: Sequence[tuple[Verifier, float]], ledger: Ledger) -> None:
    """Fill in each candidate's per-verifier scores and their weighted mean."""
    if not candidates:
        return
    with ledger.phase("verify"):
        for verifier, _ in verifiers:
            started = time.perf_counter()
            values = verifier.score(problem, candidates, ledger)
            ledger.verifier_seconds[verifier.name] = (ledger.verifier_seconds.get(verifier.name, 0.0)
                                                      + time.perf_counter() - started)
            for candidate, value in zip(candidates, values, strict=True):
                candidate.scores[verifier.name] = float(min(1.0, max(0.0, value)))
    total = sum(weight for _, weight in verifiers)
    for candidate in candidates:
        if total > 0:
            candidate.score = sum(candidate.scores[v.name] * w for v, w in verifiers) / total
        else:
            candidate.score = 0.5
