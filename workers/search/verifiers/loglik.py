"""The base model's own confidence: mean log-probability of a candidate's tokens given the prompt.

All candidates share the prompt, so they go through the model as one right-padded
batch. Only the hidden states at candidate positions go through the output layer,
in slices, because full logits for a batch (rows × length × vocabulary) would take
hundreds of megabytes on a CPU worker.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..accounting import Ledger
from ..candidates import Candidate, Problem

HEAD_SLICE_TOKENS = 256
# Above this many tokens the batch is split, to bound activation memory on small hosts.
MAX_BATCH_TOKENS = 16_384


class LoglikVerifier:
    name = "loglik"

    def __init__(self, loaded):
        self.loaded = loaded

    def score(self, problem: Problem, candidates: Sequence[Candidate], ledger: Ledger) -> list[float]:
        means = mean_logprobs(self.loaded, problem.prompt_ids, [c.token_ids for c in candidates], ledger=ledger)
        # exp(mean log p) is the geometric-mean token probability: already in [0, 1].
        return [math.exp(m) if m is not None else 0.5 for m in means]


def mean_logprobs(loaded, prompt_ids: list[int], continuations: Sequence[list[int]], *,
                  ledger: Ledger | None = None) -> list[float | None]:
    """Mean log p(token | everything before it) over each continuation; None for an empty one."""
    import torch

    results: list[float | None] = [None] * len(continuations)
    todo = [i for i, ids in enumerate(continuations) if ids]
    batches, current, size = [], [], 0
    for i in todo:
        length = len(prompt_ids) + len(continuations[i])
        if current and size + length > MAX_BATCH_TOKENS:
            batches.append(current)
            current, size = [], 0
        current.append(i)
        size += length
    if current:
        batches.append(current)

    model = loaded.model
    device = next(model.parameters()).device
    body = model.get_decoder()
    head = model.get_output_embeddings()
    for batch in batches:
        rows = [list(prompt_ids) + list(continuations[i]) for i in batch]
        width = max(len(r) for r in rows)
        input_ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, row in enumerate(rows):
            input_ids[r, : len(row)] = torch.tensor(row)
            mask[r, : len(row)] = 1
        with torch.inference_mode():
            hidden = body(input_ids=input_ids.to(device), attention_mask=mask.to(device)).last_hidden_state
            start = len(prompt_ids) - 1  # the position that predicts the first candidate token
            for r, i in enumerate(batch):
                n = len(continuations[i])
                states = hidden[r, start : start + n]
                targets = torch.tensor(continuations[i], device=device)
                total = 0.0
                for s in range(0, n, HEAD_SLICE_TOKENS):
                    logits = head(states[s : s + HEAD_SLICE_TOKENS]).float()
                    logp = torch.log_softmax(logits, dim=-1)
                    total += logp.gather(1, targets[s : s + HEAD_SLICE_TOKENS, None]).sum().item()
                results[i] = total / n
        if ledger is not None:
            ledger.scored_tokens += sum(len(r) for r in rows)
    return results
