"""Pick the next token for each request in a batch, each with its own settings.

Every request owns a ``torch.Generator``; the token at position p of a row is where a
uniform number, drawn from the generator seeded with (seed, p), falls in the row's
(temperature-scaled, top-p-filtered) distribution. The arithmetic is done for all sampled
rows of a step at once, and each row's result depends only on its own logits and its own
number, so a seeded request samples the same tokens whether it runs alone or batched, and
the same tokens after a rewrite (see BatchEngine) however late the rewrite arrived.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
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
        self._seed = params.seed if params.seed is not None else secrets.randbits(63)
        if not params.greedy:
            self.generator = torch.Generator(device=device)
        self._prompt_ids = list(prompt_ids) if params.repetition_penalty != 1.0 else []
        self._vocab_size, self._device = vocab_size, device
        # Built at the first pick, on the engine thread: a vocabulary-sized fill runs in parallel,
        # and a caller's thread that runs parallel torch work slows the engine (see in_passing_thread).
        self.seen: torch.Tensor | None = None

    def penalised(self, logits: torch.Tensor) -> torch.Tensor:
        """The row with the repetition penalty applied to every token seen so far (the row itself if none)."""
        params = self.params
        if params.repetition_penalty == 1.0:
            return logits
        if self.seen is None:
            self.seen = torch.zeros(self._vocab_size, dtype=torch.bool, device=self._device)
            self.seen[torch.tensor(self._prompt_ids, device=self._device).clamp(max=self._vocab_size - 1)] = True
        penalised = torch.where(logits < 0, logits * params.repetition_penalty, logits / params.repetition_penalty)
        return torch.where(self.seen, penalised, logits)

    def uniform(self, position: int) -> float:
        """The uniform number for the row's token at ``position``: a function of (seed, position) alone."""
        self.generator.manual_seed((self._seed + position * _POSITION_STRIDE) % 2**63)
        return float(torch.rand((), generator=self.generator, device=self._device))

    def chose(self, token: int) -> None:
        if self.seen is not None:
            self.seen[token] = True

    def restart(self, tokens: list[int]) -> None:
        """After a rewrite: the tokens the row has seen are its prompt and ``tokens`` (its text as rewritten)."""
        if self.seen is not None:
            self.seen.zero_()
            seen = torch.tensor(self._prompt_ids + list(tokens), device=self._device).clamp(max=self._vocab_size - 1)
            self.seen[seen] = True


# Spaces the seeds of one row's positions apart (odd, so distinct positions never share a seed).
_POSITION_STRIDE = 0x9E3779B97F4A7C15

# Sorting the whole vocabulary costs milliseconds per row and step; the nucleus usually lies
# within the top few dozen tokens, which topk finds far faster.
NUCLEUS_GUESS = 64


def pick_tokens(logits: torch.Tensor, samplers: Sequence[TokenSampler],
                positions: Sequence[int]) -> list[int | Exception]:
    """One token for each row of float32 ``logits`` (rows x vocabulary), row i by samplers[i] at positions[i].

    A row whose logits cannot be sampled (NaN, all -inf) gets a ValueError in its place,
    so one bad row never fails the others.
    """
    rows = len(samplers)
    tokens: list[int | Exception] = [0] * rows
    if any(s.params.repetition_penalty != 1.0 for s in samplers):
        logits = torch.stack([s.penalised(logits[i]) for i, s in enumerate(samplers)])
    greedy = [i for i, s in enumerate(samplers) if s.params.greedy]
    if greedy:
        for i, token in zip(greedy, logits[greedy].argmax(dim=-1).tolist(), strict=True):
            tokens[i] = token
    sampled = [i for i, s in enumerate(samplers) if not s.params.greedy]
    if sampled:
        temperature = torch.tensor([samplers[i].params.temperature for i in sampled], device=logits.device)
        top_p = torch.tensor([samplers[i].params.top_p for i in sampled], device=logits.device)
        uniform = torch.tensor([samplers[i].uniform(positions[i]) for i in sampled], device=logits.device)
        picked = _sample(logits[sampled].float() / temperature[:, None], top_p, uniform)
        for i, token in zip(sampled, picked, strict=True):
            tokens[i] = token
    for i, s in enumerate(samplers):
        if not isinstance(tokens[i], Exception):
            s.chose(tokens[i])
    return tokens


def _sample(scaled: torch.Tensor, top_p: torch.Tensor, uniform: torch.Tensor) -> list[int | Exception]:
    """Inverse-CDF sampling of each row's nucleus: the smallest set of top tokens holding top_p of the mass."""
    log_total = torch.logsumexp(scaled, dim=-1, keepdim=True)
    k = min(NUCLEUS_GUESS, scaled.shape[-1])
    top_logits, top_index = torch.topk(scaled, k)  # descending
    top_probs = torch.exp(top_logits - log_total)
    before = top_probs.cumsum(dim=-1) - top_probs
    weights = torch.where(before < top_p[:, None], top_probs, 0.0)
    cdf = weights.cumsum(dim=-1)
    at = torch.searchsorted(cdf, (uniform * cdf[:, -1])[:, None], right=True).clamp(max=k - 1)
    tokens: list[int | Exception] = top_index.gather(1, at)[:, 0].tolist()
    # Rows whose nucleus reaches past the top k (flat distributions, top_p near 1) take the full vocabulary.
    mass = before[:, -1] + top_probs[:, -1]
    inside = (mass >= top_p).tolist()
    # With top_p 1 the nucleus is the whole vocabulary, whose sorted cumulative mass starts with the top k's:
    # when the number falls within the top k's mass, its token is one of them, and no sort is needed.
    whole = ((top_p >= 1.0) & (uniform < mass)).tolist()
    in_top = top_index.gather(1, torch.searchsorted(cdf, uniform[:, None], right=True).clamp(max=k - 1))[:, 0].tolist()
    finite = torch.isfinite(log_total[:, 0]).tolist()
    for row in range(len(tokens)):
        if not finite[row]:
            tokens[row] = ValueError("The model's scores for this row are not finite numbers; nothing to sample from.")
        elif not inside[row]:
            tokens[row] = in_top[row] if whole[row] else _sample_full(scaled[row], float(top_p[row]), uniform[row])
    return tokens


def _sample_full(scaled: torch.Tensor, top_p: float, uniform: torch.Tensor) -> int:
    sorted_logits, order = torch.sort(scaled, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    # Drop tokens once the mass before them already reaches top_p; the best token always stays.
    weights = torch.where(probs.cumsum(dim=-1) - probs < top_p, probs, 0.0)
    cdf = weights.cumsum(dim=-1)
    at = int(torch.searchsorted(cdf, (uniform * cdf[-1]).reshape(1), right=True).clamp(max=len(cdf) - 1))
    return int(order[at])
