"""The objects strategies and verifiers pass between them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """What is being answered: the conversation as the model sees it, and its rendered prompt."""

    messages: list[dict]
    question: str
    prompt_ids: list[int]


@dataclass
class Candidate:
    """One answer (or, in beam search, one partial answer) and what the verifiers made of it."""

    text: str
    token_ids: list[int]
    finish_reason: str = "stop"
    # Tokens the engine generated for this candidate, including any it generated and we cut off.
    generated_tokens: int = 0
    # The model's log-probability of each of token_ids, when generation reported them (for loglik);
    # NaN where a tool, not the model, wrote the token.
    token_logprobs: list[float] | None = None
    # Tokens of token_ids the calculator wrote, and what it corrected (see calculator.py).
    tool_tokens: int = 0
    corrections: list[dict] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    score: float = 0.5

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "tokens": len(self.token_ids),
            "generated_tokens": self.generated_tokens,
            **({"tool_tokens": self.tool_tokens, "corrections": self.corrections} if self.tool_tokens else {}),
            "finish_reason": self.finish_reason,
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
            "score": round(self.score, 6),
        }


def last_user_text(messages: list[dict]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):  # OpenAI-style parts
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""
