"""Best-of-N: sample N answers in one batched call, keep the one the verifiers like best."""

from __future__ import annotations

from ..candidates import Problem
from .context import Outcome, SearchContext


def run(ctx: SearchContext, problem: Problem) -> Outcome:
    if ctx.stopped():
        return Outcome(None, [], {"candidates": []})
    completions = ctx.generate([problem.prompt_ids] * ctx.config.n, ctx.sampling())
    candidates = [ctx.candidate(c) for c in completions]
    if not ctx.stopped():
        ctx.score(problem, candidates)
    # Ties go to the earliest sample, so a search with no opinion behaves like a single sample.
    best = max(range(len(candidates)), key=lambda i: (candidates[i].score, -i))
    trace = {"candidates": [{**c.to_json(), "chosen": i == best} for i, c in enumerate(candidates)]}
    return Outcome(candidates[best], candidates, trace)
