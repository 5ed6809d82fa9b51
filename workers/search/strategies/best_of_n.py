"""Best-of-N: sample N answers in one batched call, keep the one the verifiers like best."""

from __future__ import annotations

from ..candidates import Problem
from .context import Outcome, SearchContext


def run(ctx: SearchContext, problem: Problem) -> Outcome:
    if ctx.stopped():
        return Outcome(None, [], {"candidates": []})
    completions = ctx.generate([problem.prompt_ids] * ctx.config.n, ctx.sampling(), enough=ctx.config.quorum)
    candidates = [ctx.candidate(c) for c in completions]
    if not ctx.stopped():
        ctx.score(problem, candidates)
    best = pick_best([c.score for c in candidates])
    trace = {"candidates": [{**c.to_json(), "chosen": i == best} for i, c in enumerate(candidates)]}
    return Outcome(candidates[best], candidates, trace)


def pick_best(scores: list[float]) -> int:
    """Index of the highest score; ties go to the earliest sample, so no opinion means the first sample."""
    return max(range(len(scores)), key=lambda i: (scores[i], -i))
