"""Step-level beam search, after HF search-and-learn: a step is text up to a line break.

Round 0 samples beam_width × k first steps from the prompt. Every later round samples
k next steps for each unfinished beam kept, all in one batched engine call; the
verifiers score every partial solution together with the finished ones still in the
running, and the best beam_width survive. It ends when the beams kept are all
finished (end of text or token budget) or after max_steps rounds.

Once every beam kept starts with the same lines, those lines are committed: every
later beam descends from one of them, so the answer starts with them too. They are
yielded (streamed) round by round.

A step is cut at its first line break in token space, so every beam is an exact token
sequence the model produced; tokens generated past the cut are counted as generated
but are not part of any beam. With stop_at_answer, a beam whose text has a complete
"Answer: ..." line is finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..answers import complete_answer
from ..candidates import Candidate, Problem
from .context import Outcome, SearchContext, Strategy


@dataclass
class Node:
    id: int
    parent: int | None
    depth: int
    step_ids: list[int]
    path_ids: list[int]
    generated_tokens: int
    finished: bool
    finish_reason: str
    candidate: Candidate
    kept: bool = False
    children: list[int] = field(default_factory=list)

    def to_json(self, ctx: SearchContext) -> dict:
        return {
            "id": self.id, "parent": self.parent, "depth": self.depth,
            "step": ctx.decode(self.step_ids), "tokens": len(self.step_ids),
            "generated_tokens": self.generated_tokens, "finished": self.finished,
            "finish_reason": self.finish_reason, "kept": self.kept,
            "scores": {k: round(v, 6) for k, v in self.candidate.scores.items()},
            "score": round(self.candidate.score, 6),
        }


def cut_at_line_break(ctx: SearchContext, token_ids: list[int]) -> int | None:
    """Length of the shortest prefix that ends a line after some text, or None if there is no such line."""
    seen_text = False
    for end in range(1, len(token_ids) + 1):
        text = ctx.decode(token_ids[:end])
        if not seen_text:
            seen_text = bool(text.strip())
            if not seen_text:
                continue
        stripped = text.lstrip()
        if "\n" in stripped:
            # Keep the line break (and any run of them) inside the step that ends the line.
            newline = stripped.index("\n")
            if stripped[:newline].strip():
                return end
    return None


def committed_lines(texts: list[str]) -> str:
    """The whole lines (line breaks included) that all texts start with."""
    if not texts:
        return ""
    common = texts[0]
    for text in texts[1:]:
        end = 0
        while end < min(len(common), len(text)) and common[end] == text[end]:
            end += 1
        common = common[:end]
    return common[: common.rfind("\n") + 1]


def run(ctx: SearchContext, problem: Problem) -> Strategy:
    c = ctx.config
    nodes: list[Node] = []
    frontier: list[Node] = []
    rounds = 0

    def expand(parents: list[Node | None], samples: int) -> list[Node]:
        owners = [p for p in parents for _ in range(samples)]
        prompts = [problem.prompt_ids + (p.path_ids if p else []) for p in owners]
        # A step never takes a beam past max_new_tokens.
        params = [ctx.sampling(max_new_tokens=min(c.step_tokens, c.max_new_tokens - len(p.path_ids if p else [])),
                               row=row) for row, p in enumerate(owners)]
        completions = ctx.generate(prompts, params)
        children = []
        for parent, completion in zip(owners, completions):
            ids = list(completion.token_ids)
            cut = cut_at_line_break(ctx, ids)
            if cut is not None:
                step, finished, reason = ids[:cut], False, "step"
            else:
                cut = len(ids)
                step = ids
                finished = completion.finish_reason != "length"
                reason = completion.finish_reason
            path = (parent.path_ids if parent else []) + step
            text = ctx.decode(path)
            if not finished and c.stop_at_answer and complete_answer(text):
                finished, reason = True, "stop"
            if not finished and len(path) >= c.max_new_tokens:
                finished, reason = True, "length"
            logprobs = None
            step_logprobs = getattr(completion, "token_logprobs", None)
            parent_logprobs = parent.candidate.token_logprobs if parent else []
            if step_logprobs is not None and parent_logprobs is not None:
                logprobs = parent_logprobs + list(step_logprobs[:cut])
            # Calculator tokens in this step (those past the cut were written, and dropped with the rest).
            tool = sum(getattr(completion, "tool_mask", [])[:cut])
            step_chars = len(ctx.decode(step)) if getattr(completion, "corrections", None) else 0
            corrections = [c.to_json() for c in getattr(completion, "corrections", []) if c.at < step_chars]
            node = Node(id=len(nodes), parent=parent.id if parent else None,
                        depth=(parent.depth + 1) if parent else 0, step_ids=step, path_ids=path,
                        generated_tokens=completion.completion_tokens, finished=finished, finish_reason=reason,
                        candidate=Candidate(text=text, token_ids=path, finish_reason=reason,
                                            generated_tokens=completion.completion_tokens,
                                            token_logprobs=logprobs,
                                            tool_tokens=tool + (parent.candidate.tool_tokens if parent else 0),
                                            corrections=(parent.candidate.corrections if parent else [])
                                            + corrections))
            nodes.append(node)
            if parent:
                parent.children.append(node.id)
            children.append(node)
        return children

    while rounds < c.max_steps and not ctx.stopped():
        active = [n for n in frontier if not n.finished]
        if frontier and not active:
            break
        children = expand(active or [None], c.k if active else c.beam_width * c.k)
        rounds += 1
        pool = [n for n in frontier if n.finished] + children
        if ctx.stopped():
            frontier = pool[: c.beam_width]
            break
        # Finished beams are scored again beside the new ones: consensus and reward are relative.
        ctx.score(problem, [n.candidate for n in pool])
        pool.sort(key=lambda n: (-n.candidate.score, n.id))
        frontier = pool[: c.beam_width]
        for n in frontier:
            n.kept = True
        yield committed_lines([n.candidate.text for n in frontier])

    if not frontier:
        return Outcome(None, [], {"rounds": rounds, "nodes": []})
    best = min(frontier, key=lambda n: (-n.candidate.score, n.id))
    answer = best.candidate
    if not best.finished:
        answer.finish_reason = "max_steps"
    trace = {
        "rounds": rounds,
        "answer_node": best.id,
        "nodes": [n.to_json(ctx) for n in nodes],
    }
    return Outcome(answer, [n.candidate for n in nodes], trace)
