"""Pick the next token for each request in a batch, each with its own settings.

Every request owns a ``torch.Generator``, so a seeded request samples the same
tokens whether it runs alone or batched with others.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import torch


@dataclass
class SamplingParams:
    max_new_tokens: int = 256
    temperature: float = 0.7  # 0 means greedy
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    # Also return each generated token's log-probability under the model (before temperature,
    # top_p or repetition penalty), e.g. to score candidates without a second forward pass.
    logprobs: bool = False

    def validate(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1.")
        if self.temperature < 0:
            raise ValueError("temperature must be 0 (greedy) or positive.")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1].")
        if self.repetition_penalty <= 0:
            raise ValueError("repetition_penalty must be positive.")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


class TokenSampler:
    """Sampling state of one request: its generator and the tokens it has seen."""

    def __init__(self, params: SamplingParams, prompt_ids: list[int], vocab_size: int, device: torch.device):
        self.params = params
        self.generator: torch.Generator | None = None
        if not params.greedy:
            self.generator = torch.Generator(device=device)
            seed = params.seed if params.seed is not None else secrets.randbits(63)
            self.generator.manual_seed(seed)
        self._prompt_ids = list(prompt_ids) if params.repetition_penalty != 1.0 else []
        self._vocab_size, self._device = vocab_size, device
        # Built at the first pick, on the engine thread: a vocabulary-sized fill runs in parallel,
        # and a caller's thread that runs parallel torch work slows the engine (see in_passing_thread).
        self.seen: torch.Tensor | None = None

    @property
    def plain_greedy(self) -> bool:
        """True when the pick is just the argmax, which the engine computes for all rows at once."""
        return self.params.greedy and self.params.repetition_penalty == 1.0

    def pick(self, logits: torch.Tensor) -> int:
        """Choose a token from one row of float32 logits."""
        params = self.params
        if params.repetition_penalty != 1.0 and self.seen is None:
            self.seen = torch.zeros(self._vocab_size, dtype=torch.bool, device=self._device)
            self.seen[torch.tensor(self._prompt_ids, device=self._device).clamp(max=self._vocab_size - 1)] = True
        if self.seen is not None:
            penalised = torch.where(logits < 0, logits * params.repetition_penalty, logits / params.repetition_penalty)
            logits = torch.where(self.seen, penalised, logits)
        if params.greedy:
            token = int(logits.argmax())
        else:
            logits = logits / params.temperature
            if params.top_p < 1.0:
                logits = _top_p_filter(logits, params.top_p)
            probs = torch.softmax(logits, dim=-1)
            token = int(torch.multinomial(probs, 1, generator=self.generator))
        if self.seen is not None:
            self.seen[token] = True
        return token


# Sorting the whole vocabulary costs milliseconds per row and step; the nucleus usually lies
# within the top few dozen tokens, which topk finds far faster.
NUCLEUS_GUESS = 64


def _top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    if logits.numel() > NUCLEUS_GUESS:
        _, top_index = torch.topk(logits, NUCLEUS_GUESS)
        top_probs = torch.softmax(logits, dim=-1)[top_index]
        before = top_probs.cumsum(dim=-1) - top_probs
        if before[-1] + top_probs[-1] >= top_p:  # the token after these already has top_p before it
            kept = top_index[before < top_p]
            return torch.full_like(logits, float("-inf")).index_copy(0, kept, logits[kept])
    sorted_logits, order = torch.sort(logits, descending=True)
    sorted_probs = torch.softmax(sorted_logits, dim=-1)
    # Drop tokens once the mass before them already reaches top_p; the best token always stays.
    drop_sorted = (sorted_probs.cumsum(dim=-1) - sorted_probs) >= top_p
    drop = torch.zeros_like(drop_sorted).scatter(0, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))
