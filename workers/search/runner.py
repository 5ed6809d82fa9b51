"""The one entry point the search backend calls."""

from __future__ import annotations

import time
from collections.abc import Callable

from .accounting import Ledger
from .candidates import Problem, last_user_text
from .config import SearchConfig
from .index import open_index
from .result import SearchResult
from .strategies import SearchContext, get_strategy
from .strategies import retrieve as retrieval
from .verifiers.registry import build_verifiers


def run_search(config: SearchConfig, *, engine, loaded, messages: list[dict],
               should_stop: Callable[[], bool] | None = None, system_prompt: str | None = None,
               chat_template: str | None = None) -> SearchResult:
    """Answer the last user message of `messages` by `config.strategy`, retrieving first if configured.

    `engine` is the batching engine (its `generate` is the only call used) and `loaded`
    the same model's LoadedModel, used by the loglik verifier. `should_stop` is polled
    between engine calls; when it turns true the best answer found so far is returned
    with `stopped=True` (empty text if nothing was generated yet).
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
    outcome = get_strategy(config.strategy)(ctx, problem)
    trace.update(outcome.trace)

    answer = outcome.answer
    text = answer.text if answer else ""
    return SearchResult(
        text=text,
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
