"""What every strategy needs: the engine, the verifiers, the ledger, and when to stop.

A strategy is a generator: it yields the answer's text as far as it has committed to it,
each time that grows (the whole text so far, not a piece), and returns an Outcome.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..accounting import Ledger
from ..answers import complete_answer
from ..calculator import generate_with_calculator
from ..candidates import Candidate, Problem
from ..config import SearchConfig
from ..running_rows import RunningRows
from ..verifiers.registry import Verifier, score_candidates


@dataclass
class Outcome:
    answer: Candidate | None
    candidates: list[Candidate]
    trace: dict = field(default_factory=dict)


# What each strategy's run(ctx, problem) returns.
Strategy = Generator[str, None, Outcome]


@dataclass
class SearchContext:
    config: SearchConfig
    engine: Any
    loaded: Any
    verifiers: list[tuple[Verifier, float]]
    ledger: Ledger = field(default_factory=Ledger)
    should_stop: Callable[[], bool] = lambda: False
    calls: int = 0

    @property
    def tokenizer(self):
        return self.loaded.tokenizer

    def stopped(self) -> bool:
        return bool(self.should_stop())

    def sampling(self, *, max_new_tokens: int | None = None, temperature: float | None = None, row: int = 0):
        """Engine sampling parameters for the next call; a seeded search gets a distinct seed per call.

        Pass one of these to the engine for a whole batch (it adds the row index to the seed),
        or one per prompt with `row` set to the prompt's index.
        """
        from workers.engine import SamplingParams  # noqa: PLC0415 (torch: not in the web)

        c = self.config
        values = {
            "max_new_tokens": max_new_tokens or c.max_new_tokens,
            "temperature": c.temperature if temperature is None else temperature,
            "top_p": c.top_p,
            "repetition_penalty": c.repetition_penalty,
            # The engine adds the row index to the seed; spacing calls apart keeps every row's seed distinct.
            "seed": None if c.seed is None else c.seed + 10_007 * self.calls + row,
            # loglik then reads the generation's own token log-probabilities: no second forward pass.
            "logprobs": any(v.name == "loglik" for v, _ in self.verifiers),
        }
        names = {f.name for f in dataclasses.fields(SamplingParams)} if dataclasses.is_dataclass(SamplingParams) \
            else set(values)
        return SamplingParams(**{k: v for k, v in values.items() if k in names})

    def generate(self, prompts: list[list[int]], params, *, enough: int | None = None) -> list:
        """One batched generation. With the calculator on, a row whose arithmetic it corrects goes on from the
        right number in the same batch (an engine that cannot rewrite a running row takes another call)."""
        self.calls += 1
        stop_when = (lambda _row, text: complete_answer(text)) if self.config.stop_at_answer else None
        if not self.config.calculator:
            return self.ledger.generate(self.engine, prompts, params, should_stop=self.should_stop,
                                        stop_when=stop_when, enough=enough)

        def call(prompts, params, *, stop_when, enough, continuation, rewrite):
            return self.ledger.generate(self.engine, prompts, params, should_stop=self.should_stop,
                                        stop_when=stop_when, enough=enough, continuation=continuation,
                                        rewrite=rewrite)

        completions = generate_with_calculator(call, self.tokenizer, prompts, params, stop_when=stop_when,
                                               enough=enough, rewrites=getattr(self.engine, "can_rewrite", False))
        self.ledger.tool_tokens += sum(c.tool_tokens for c in completions)
        return completions

    def start(self, prompts: list[list[int]], params, *, mark_at: int | None = None) -> RunningRows:
        """Start a batched generation whose rows can be judged at `mark_at` tokens, cut to one and
        followed as they are written (see running_rows.py); use it in a with-block."""
        return RunningRows(self, prompts, params, mark_at=mark_at)

    def score(self, problem: Problem, candidates: Sequence[Candidate]) -> None:
        score_candidates(problem, candidates, self.verifiers, self.ledger)

    def decode(self, token_ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(token_ids), skip_special_tokens=True)

    def candidate(self, completion) -> Candidate:
        return Candidate(text=completion.text, token_ids=list(completion.token_ids),
                         finish_reason=completion.finish_reason, generated_tokens=completion.completion_tokens,
                         token_logprobs=getattr(completion, "token_logprobs", None),
                         tool_tokens=getattr(completion, "tool_tokens", 0),
                         corrections=[c.to_json() for c in getattr(completion, "corrections", [])])
