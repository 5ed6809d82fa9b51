"""The entry points: stream_search, which the search backend calls, and run_search for a whole result."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from .accounting import Ledger
from .candidates import Problem, last_user_text
from .config import SearchConfig
from .index import open_index
from .result import SearchResult
from .strategies import SearchContext, get_strategy
from .strategies import retrieve as retrieval
from .verifiers.registry import build_verifiers

logger = logging.getLogger(__name__)


def run_search(config: SearchConfig, *, engine, loaded, messages: list[dict],
               should_stop: Callable[[], bool] | None = None, system_prompt: str | None = None,
               chat_template: str | None = None) -> SearchResult:
    """stream_search's result, once the search has ended."""
    for item in stream_search(config, engine=engine, loaded=loaded, messages=messages, should_stop=should_stop,
                              system_prompt=system_prompt, chat_template=chat_template):
        if isinstance(item, SearchResult):
            return item
    raise RuntimeError("The search ended without a result.")


def stream_search(config: SearchConfig, *, engine, loaded, messages: list[dict],
                  should_stop: Callable[[], bool] | None = None, system_prompt: str | None = None,
                  chat_template: str | None = None) -> Iterator[str | SearchResult]:
    """Answer the last user message of `messages` by `config.strategy`, retrieving first if configured.

    Yields the answer's text in pieces as the strategy commits to it, then the SearchResult,
    whose text is the pieces joined. `engine` is the batching engine (`generate` and `start`
    are the calls used) and `loaded` the same model's LoadedModel, used by the loglik verifier.
    `should_stop` is polled by the engine; when it turns true the best answer found so far
    ends the search with `stopped=True` (empty text if nothing was generated yet).
    """
    from workers.engine.chat import render_prompt  # noqa: PLC0415 (torch: not in the web)

    started = time.perf_counter()
    ledger = Ledger()
    should_stop = should_stop or (lambda: False)
    question = last_user_text(messages)
    trace: dict = {"strategy": config.strategy, "retrieve": config.retrieve}

    hits = []
    if config.retrieve:
        with ledger.phase("retrieve"):
            found = open_index(config.corpus, cache_dir=config.index_dir).search(question, top_k=config.top_k)
        hits = retrieval.relevant(found)
        if hits:
            messages = retrieval.augment(messages, question, hits)
        trace["passages"] = [h.to_json() for h in found]

    prompt_ids = render_prompt(loaded.tokenizer, messages, system_prompt=system_prompt, chat_template=chat_template)
    problem = Problem(messages=messages, question=question, prompt_ids=list(prompt_ids))
    verifiers = build_verifiers(config.verifiers if config.strategy != "single" else {},
                                loaded=loaded, reward_model=config.reward_model,
                                outcome_model=config.outcome_model)
    ctx = SearchContext(config=config, engine=engine, loaded=loaded, verifiers=verifiers, ledger=ledger,
                        should_stop=should_stop)
    shown = Committed()
    strategy = get_strategy(config.strategy)(ctx, problem)
    try:
        while True:
            try:
                piece = shown.push(next(strategy))
            except StopIteration as end:
                outcome = end.value
                break
            if piece:
                yield piece
    finally:
        strategy.close()  # a reader that leaves early ends the engine's rows now, not when collected
    trace.update(outcome.trace)

    answer = outcome.answer
    text = answer.text if answer else ""
    rest = shown.finish(text)
    if rest:
        yield rest
    yield SearchResult(
        text=shown.shown,
        citations=retrieval.sources(text, hits) if answer else [],
        strategy=("retrieve+" if config.retrieve else "") + config.strategy,
        answer_tokens=len(answer.token_ids) if answer else 0,
        generated_tokens=ledger.generated_tokens,
        candidates=len(outcome.candidates),
        sequences=ledger.sequences,
        engine_calls=ledger.engine_calls,
        scored_tokens=ledger.scored_tokens,
        tool_tokens=ledger.tool_tokens,
        wall_s=time.perf_counter() - started,
        phase_s=dict(ledger.seconds),
        verifier_s=dict(ledger.verifier_seconds),
        finish_reason=answer.finish_reason if answer else "stopped",
        stopped=should_stop(),
        trace=trace,
    )


class Committed:
    """The answer's text as shown so far: what a strategy commits to, handed on only as it grows.

    Trailing white space is held back until text follows it, since the final answer may end
    without it.
    """

    def __init__(self) -> None:
        self.shown = ""

    def push(self, committed: str) -> str:
        """The piece to show now, given the whole committed text so far ("" if nothing new)."""
        committed = committed.rstrip().removesuffix("\ufffd")  # nor half a character
        if len(committed) <= len(self.shown) or not committed.startswith(self.shown):
            return ""
        piece, self.shown = committed[len(self.shown):], committed
        return piece

    def finish(self, final: str) -> str:
        """The rest of the final text."""
        if not final.startswith(self.shown):
            # A strategy committed to text its answer does not start with; a bug, never the voter's concern.
            logger.error("The search answer does not start with the text already streamed; showing no more.")
            return ""
        rest, self.shown = final[len(self.shown):], final
        return rest
