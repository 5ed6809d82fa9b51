"""One sample: the plain model, for comparison and for retrieval without search; streamed as it is written."""

from __future__ import annotations

from ..candidates import Problem
from .context import Outcome, SearchContext, Strategy


def run(ctx: SearchContext, problem: Problem) -> Strategy:
    if ctx.stopped():
        return Outcome(None, [], {"candidates": []})
    with ctx.start([problem.prompt_ids], ctx.sampling()) as rows:
        yield from rows.keep(0)
        [completion] = rows.completions()
    answer = ctx.candidate(completion)
    return Outcome(answer, [answer], {"candidates": [{**answer.to_json(), "chosen": True}]})
