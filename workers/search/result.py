"""What a search returns: the answer, what it cost, and how it was chosen."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SearchResult:
    text: str
    strategy: str
    # Tokens of the answer shown, all of which were generated (sources appended by retrieval are not).
    answer_tokens: int
    # Every token the engine generated for this search, the answer's included.
    generated_tokens: int
    # Answers, or in beam search partial answers, that were scored or voted on.
    candidates: int
    sequences: int
    engine_calls: int
    # Tokens the loglik verifier pushed through the base model: the shared prompt once per scoring
    # round plus every candidate token.
    scored_tokens: int
    wall_s: float
    # Seconds per phase (retrieve, generate, verify); they add up to at most wall_s.
    phase_s: dict[str, float] = field(default_factory=dict)
    # The verify phase split by verifier.
    verifier_s: dict[str, float] = field(default_factory=dict)
    finish_reason: str = "stop"
    stopped: bool = False
    trace: dict = field(default_factory=dict)

    @property
    def overhead_tokens(self) -> int:
        return self.generated_tokens - self.answer_tokens

    def compute(self) -> dict:
        """The accounting as plain JSON numbers, for storing beside the message."""
        return {
            "strategy": self.strategy,
            "candidates": self.candidates,
            "sequences": self.sequences,
            "engine_calls": self.engine_calls,
            "generated_tokens": self.generated_tokens,
            "answer_tokens": self.answer_tokens,
            "overhead_tokens": self.overhead_tokens,
            "scored_tokens": self.scored_tokens,
            "wall_s": round(self.wall_s, 4),
            "phase_s": {k: round(v, 4) for k, v in self.phase_s.items()},
            "verifier_s": {k: round(v, 4) for k, v in self.verifier_s.items()},
            "stopped": self.stopped,
        }

    def to_json(self) -> dict:
        return {"text": self.text, "finish_reason": self.finish_reason, "compute": self.compute(),
                "trace": self.trace}
