"""Self-consistency: sample N answers, group them by final answer, let the groups vote.

Each candidate votes with its verifier score (1 each when no verifier is configured),
and the answer shown is the best-scored candidate of the winning group. Candidates
with no recognisable final answer vote alone, so free-text prompts fall back to
best-of-N on the verifier score.

A vote needs every answer, so nothing is committed, or streamed, before the end.
"""

from __future__ import annotations

from collections import defaultdict

from ..answers import answer_key, final_answer
from ..candidates import Problem
from .context import Outcome, SearchContext, Strategy


def run(ctx: SearchContext, problem: Problem) -> Strategy:
    outcome = vote_on_samples(ctx, problem)
    yield from ()  # commits to nothing before the vote
    return outcome


def vote_on_samples(ctx: SearchContext, problem: Problem) -> Outcome:
    if ctx.stopped():
        return Outcome(None, [], {"candidates": []})
    completions = ctx.generate([problem.prompt_ids] * ctx.config.n, ctx.sampling(), enough=ctx.config.quorum)
    candidates = [ctx.candidate(c) for c in completions]
    if ctx.verifiers and not ctx.stopped():
        ctx.score(problem, candidates)
    weights = [c.score for c in candidates] if ctx.verifiers else [1.0] * len(candidates)
    best, keys, votes = vote([c.text for c in candidates], weights)
    trace = {
        "candidates": [{**c.to_json(), "answer_key": k, "chosen": i == best}
                       for i, (c, k) in enumerate(zip(candidates, keys))],
        "votes": {k: round(v, 6) for k, v in sorted(votes.items(), key=lambda kv: -kv[1])},
        "winner": keys[best],
    }
    return Outcome(candidates[best], candidates, trace)


def vote(texts: list[str], weights: list[float]) -> tuple[int, list[str], dict[str, float]]:
    """(index of the answer to show, each text's answer key, total weight per key).

    The winning key has the largest total weight (the earliest key on a tie); the text
    shown is the heaviest member of that group (the earliest on a tie).
    """
    keys = []
    for i, text in enumerate(texts):
        key = answer_key(final_answer(text))
        keys.append(key if key is not None else f"#{i}")
    votes: dict[str, float] = defaultdict(float)
    for key, weight in zip(keys, weights):
        votes[key] += weight
    first_seen = {key: keys.index(key) for key in votes}
    winner = max(votes, key=lambda k: (votes[k], -first_seen[k]))
    members = [i for i, k in enumerate(keys) if k == winner]
    best = max(members, key=lambda i: (weights[i], -i))
    return best, keys, dict(votes)
