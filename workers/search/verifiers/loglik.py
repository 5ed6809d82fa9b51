"""The base model's own confidence: mean log-probability of a candidate's tokens given the prompt.

Candidates sampled by the engine carry the log-probability of each token they were
sampled with (SamplingParams.logprobs), so scoring them is free. Others (handed in
without them, or cut where the logits were not kept) are scored by a forward pass:
all candidates share the prompt, so the prompt goes through the model once and its
key/value cache is repeated for the batch of candidates, which then go through as one
right-padded batch: the cost is prompt + N × candidate tokens, not N × (prompt +
candidate), which matters when retrieval has made the prompt long. Only the hidden
states at candidate positions go through the output layer, in slices, because full
logits (rows × length × vocabulary) would take hundreds of megabytes on a CPU worker.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..accounting import Ledger
from ..candidates import Candidate, Problem

HEAD_SLICE_TOKENS = 256
# Above this many candidate tokens the batch is split, to bound activation memory on small hosts.
MAX_BATCH_TOKENS = 16_384


class LoglikVerifier:
    name = "loglik"

    def __init__(self, loaded):
        self.loaded = loaded

    def score(self, problem: Problem, candidates: Sequence[Candidate], ledger: Ledger) -> list[float]:
        means: list[float | None] = [None] * len(candidates)
        # Generation already computed these log-probabilities; only candidates without them go through the model.
        rescore = []
        for i, c in enumerate(candidates):
            if c.token_logprobs is not None and len(c.token_logprobs) == len(c.token_ids):
                # NaN marks a token the calculator wrote: the model's confidence is over its own tokens.
                own = [v for v in c.token_logprobs if not math.isnan(v)]
                means[i] = sum(own) / len(own) if own else None
            else:
                rescore.append(i)
        if rescore:
            found = mean_logprobs(self.loaded, problem.prompt_ids, [candidates[i].token_ids for i in rescore],
                                  ledger=ledger)
            for i, m in zip(rescore, found):
                means[i] = m
        # exp(mean log p) is the geometric-mean token probability: already in [0, 1].
        return [math.exp(m) if m is not None else 0.5 for m in means]


def mean_logprobs(loaded, prompt_ids: list[int], continuations: Sequence[list[int]], *,
                  ledger: Ledger | None = None) -> list[float | None]:
    """Mean log p(token | everything before it) over each continuation; None for an empty one.

    The forward passes run on a thread that ends with the call, so the caller's thread keeps no
    OpenMP team beside the batching engine's (see in_passing_thread).
    """
    from workers.engine.loading import in_passing_thread  # noqa: PLC0415 (torch: not in the web)

    return in_passing_thread(_mean_logprobs, loaded, prompt_ids, continuations, ledger)


def _mean_logprobs(loaded, prompt_ids: list[int], continuations: Sequence[list[int]],
                   ledger: Ledger | None) -> list[float | None]:
    import torch  # noqa: PLC0415 (torch: not in the web)
    from transformers import DynamicCache  # noqa: PLC0415 (torch: not in the web)

    if not prompt_ids:
        raise ValueError("Scoring needs a non-empty prompt.")
    results: list[float | None] = [None] * len(continuations)
    batches = _batches([i for i, ids in enumerate(continuations) if ids], continuations)
    if not batches:
        return results

    model = loaded.model
    device = next(model.parameters()).device
    body = model.get_decoder()
    head = model.get_output_embeddings()
    with torch.inference_mode():
        prompt = torch.tensor([prompt_ids], device=device)
        prefix = DynamicCache(config=model.config)
        prompt_out = body(input_ids=prompt, cache=prefix, use_cache=True)
        last_prompt_state = prompt_out.last_hidden_state[0, -1]  # predicts every candidate's first token
        if ledger is not None:
            ledger.scored_tokens += len(prompt_ids)
        for batch in batches:
            rows = [continuations[i] for i in batch]
            width = max(len(r) for r in rows)
            input_ids = torch.zeros((len(rows), width), dtype=torch.long, device=device)
            mask = torch.zeros((len(rows), len(prompt_ids) + width), dtype=torch.long, device=device)
            mask[:, : len(prompt_ids)] = 1
            for r, row in enumerate(rows):
                input_ids[r, : len(row)] = torch.tensor(row, device=device)
                mask[r, len(prompt_ids) : len(prompt_ids) + len(row)] = 1
            cache = _repeat(prefix, len(rows), model.config)
            positions = torch.arange(len(prompt_ids), len(prompt_ids) + width, device=device).expand(len(rows), -1)
            hidden = body(input_ids=input_ids, attention_mask=mask, position_ids=positions, cache=cache,
                          use_cache=True).last_hidden_state
            for r, i in enumerate(batch):
                n = len(rows[r])
                # The state before token j predicts it: the prompt's last state, then the candidate's own.
                states = torch.cat([last_prompt_state[None], hidden[r, : n - 1]])
                targets = torch.tensor(rows[r], device=device)
                total = 0.0
                for s in range(0, n, HEAD_SLICE_TOKENS):
                    logp = torch.log_softmax(head(states[s : s + HEAD_SLICE_TOKENS]).float(), dim=-1)
                    total += logp.gather(1, targets[s : s + HEAD_SLICE_TOKENS, None]).sum().item()
                results[i] = total / n
            if ledger is not None:
                ledger.scored_tokens += sum(len(r) for r in rows)
    return results


def _batches(todo: list[int], continuations: Sequence[list[int]]) -> list[list[int]]:
    batches, current, size = [], [], 0
    for i in todo:
        if current and size + len(continuations[i]) > MAX_BATCH_TOKENS:
            batches.append(current)
            current, size = [], 0
        current.append(i)
        size += len(continuations[i])
    if current:
        batches.append(current)
    return batches


def _repeat(prefix, rows: int, config):
    """A fresh cache holding the prompt's keys and values once per row (the prefix stays reusable)."""
    from transformers import DynamicCache  # noqa: PLC0415 (torch: not in the web)

    cache = DynamicCache(config=config)
    for layer_index, layer in enumerate(prefix.layers):
        cache.update(layer.keys.expand(rows, -1, -1, -1).contiguous(),
                     layer.values.expand(rows, -1, -1, -1).contiguous(), layer_index)
    return cache
