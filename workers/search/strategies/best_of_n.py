"""Best-of-N: sample N answers in one batch, keep the one the verifiers like best.

With choose_after (the default) the choice is made early, as speculative rejection does
(Sun et al. 2024): once every candidate has choose_after tokens (or has ended), each is
scored as it stands, the best is kept and the others leave the engine's batch; the one
kept goes on by itself and is streamed, its first tokens at once and the rest as they
are generated. The rows go on while the verifiers judge them (the choice holds up no
row), so a slow verifier costs the others' tokens, not the kept one's time. The
outcome verifier and the checker then read an unfinished answer: its first equation,
not yet its "Answer:" line (docs/search_eval.md measures what that costs). With
choose_after 0 all N run to their end (or to the quorum) and the whole answer is
chosen, and nothing is streamed before.
"""

from __future__ import annotations

from ..candidates import Problem
from .context import Outcome, SearchContext, Strategy


def run(ctx: SearchContext, problem: Problem) -> Strategy:
    if ctx.stopped():
        return Outcome(None, [], {"candidates": []})
    if not ctx.config.choose_after:
        return choose_whole(ctx, problem)
    c = ctx.config
    with ctx.start([problem.prompt_ids] * c.n, ctx.sampling(), mark_at=c.choose_after) as rows:
        judged = [ctx.candidate(mark) for mark in rows.marked()]
        if not ctx.stopped():
            ctx.score(problem, judged)
        best = pick_best([j.score for j in judged])
        yield from rows.keep(best)
        completions = rows.completions()
    candidates = [ctx.candidate(completion) for completion in completions]
    for candidate, judgement in zip(candidates, judged, strict=True):
        candidate.scores, candidate.score = judgement.scores, judgement.score
    trace = {"choose_after": c.choose_after,
             "candidates": [{**candidate.to_json(), "judged_tokens": len(judgement.token_ids),
                             "judged_text": judgement.text, "chosen": i == best}
                            for i, (candidate, judgement) in enumerate(zip(candidates, judged))]}
    return Outcome(candidates[best], candidates, trace)


def choose_whole(ctx: SearchContext, problem: Problem) -> Outcome:
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
