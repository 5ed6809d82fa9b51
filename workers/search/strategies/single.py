"""One sample: the plain model, for comparison and for retrieval without search."""

from __future__ import annotations

from ..candidates import Problem
from .context import Outcome, SearchContext


def run(ctx: SearchContext, problem: Problem) -> Outcome:
    if ctx.stopped():
        return Outcome(None, [], {"candidates": []})
    [completion] = ctx.generate([problem.prompt_ids], ctx.sampling())
    answer = ctx.candidate(completion)
    return Outcome(answer, [answer], {"candidates": [{**answer.to_json(), "chosen": True}]})
