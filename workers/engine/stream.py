"""The caller's side of one request: read its text pieces, ask for rewrites, get its completion.

Detokenizing and polling ``should_stop`` run here, on the caller's thread, so a slow stop check
never holds up the batch.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from workers.engine.detokenize import IncrementalDecoder
from workers.engine.loading import LoadedModel
from workers.engine.request import EngineError, Request, Rewrite

# How often a waiting caller re-checks should_stop and whether the engine is alive.
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class EngineDelta:
    """A piece of one request's text, as the engine's Stream yields it."""

    text: str
    tokens: int  # how many generated tokens this piece of text covers


@dataclass(frozen=True)
class Completion:
    text: str
    token_ids: list[int]  # the row's tokens (as rewritten, if it was), without the stop token
    # "stop" (end-of-turn token), "length" (max_new_tokens) or "stopped" (should_stop/close/cancel);
    # "running" for a row still generating (Stream.partial).
    finish_reason: str
    prompt_tokens: int
    # Tokens the model sampled, including any a rewrite dropped; none of the written ones.
    completion_tokens: int
    # One per token of token_ids when SamplingParams.logprobs was set, else None; NaN for written tokens.
    token_logprobs: list[float] | None = None
    # Rewrites applied, and for each of token_ids whether a rewrite wrote it (None when none was applied).
    rewrites: int = 0
    written: list[bool] | None = None


class RowEngine(Protocol):
    """What a Stream needs of the engine that runs its request (BatchEngine)."""

    loaded: LoadedModel

    @property
    def is_alive(self) -> bool: ...

    def request_rewrite(self, request: Request, rewrite: Rewrite) -> None: ...


class Stream(Iterator[EngineDelta]):
    """Text pieces of one request as the engine produces them.

    ``completion`` is set once iteration ends. Closing the stream (or dropping
    it) frees the request's place in the batch at the next step.
    """

    def __init__(self, engine: RowEngine, request: Request, should_stop: Callable[[], bool] | None) -> None:
        self.completion: Completion | None = None
        self._engine = engine
        self._request = request
        self._should_stop = should_stop
        self._decoder = IncrementalDecoder(engine.loaded.tokenizer)
        self._tokens: list[int] = []
        self._text: list[str] = []
        self._pending = 0  # tokens received whose text is held back
        self._sampled = 0  # tokens the model sampled for this request, those a rewrite dropped included
        self._written: list[bool] | None = None  # per token, whether a rewrite wrote it
        self._rewrites = 0
        self._rewriting = False  # a rewrite is on its way to the engine
        self._held: list[int] = []  # tokens that came meanwhile: dropped if it is applied, kept if the row ends first
        self._deltas = self._produce()

    def __next__(self) -> EngineDelta:
        return next(self._deltas)

    def run(
        self,
        *,
        stop_when: Callable[[str], bool] | None = None,
        rewrite: Callable[[str, list[int]], Rewrite | None] | None = None,
        watch: Callable[[str], None] | None = None,
    ) -> Completion:
        """Consume the stream and return its completion; end it as "stop" once ``stop_when(text so far)``.

        ``rewrite(text, token_ids)`` may ask for a Rewrite of the row (see BatchEngine.generate).
        ``watch(text)`` is told the row's text after each piece that no rewrite is on its way for and
        that did not end the row (the completion has the last text).
        """
        for _ in self:
            if self._rewriting:
                continue
            text = "".join(self._text)
            if rewrite is not None:
                change = rewrite(text, self._tokens[: len(self._tokens) - self._pending])
                if change is not None:
                    self._ask_rewrite(change)
                    continue
            if stop_when is not None and stop_when(text):
                self.close(finish_reason="stop")
                break
            if watch is not None:
                watch(text)
        return self.completion

    @property
    def token_count(self) -> int:
        """Tokens of the row whose text has been read so far."""
        return len(self._tokens) - self._pending

    def partial(self) -> Completion:
        """The row as read so far, with finish_reason "running" (call it from the thread that reads the stream)."""
        return self._completion("running")

    def cancel(self) -> None:
        """Ask the engine to end this request at its next step; safe from any thread, unlike ``close``.

        Whoever reads the stream sees it end as "stopped" with the text generated until then.
        """
        self._request.cancelled.set()

    def _ask_rewrite(self, change: Rewrite) -> None:
        seen = len(self._tokens) - self._pending
        if not 0 <= change.keep <= seen:
            raise ValueError(f"A rewrite keeps {change.keep} tokens of the {seen} generated so far.")
        self._engine.request_rewrite(self._request, change)
        self._rewriting = True

    def close(self, *, finish_reason: str = "stopped") -> None:
        """Stop reading; an unfinished request ends as ``finish_reason`` with the text read so far."""
        self._request.cancelled.set()
        self._deltas.close()
        if self.completion is None:
            self.completion = self._completion(finish_reason)

    def __del__(self) -> None:
        self._request.cancelled.set()

    def _produce(self) -> Iterator[EngineDelta]:
        try:
            while True:
                if self._should_stop is not None and self._should_stop():
                    self._request.cancelled.set()
                    yield from self._finish("stopped")
                    return
                event = self._next_event()
                if event is None:
                    continue
                kind, value = event
                if kind == "token":
                    self._sampled += 1
                    if self._rewriting:
                        self._held.append(value)
                        continue
                    text = self._push([value])
                    if text:
                        yield self._delta(text)
                elif kind == "rewound":
                    self._rewound(value)
                elif kind == "done":
                    yield from self._finish(value)
                    return
                else:
                    raise EngineError(f"Generation failed: {value}") from value
        finally:
            self._request.cancelled.set()

    def _next_event(self) -> tuple[str, object] | None:
        try:
            return self._request.events.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if not self._engine.is_alive:
                # The thread cannot die while it still owes us events, but never hang if it does.
                try:
                    return self._request.events.get_nowait()
                except queue.Empty:
                    raise EngineError("The engine thread is gone.") from None
            return None

    def _push(self, tokens: list[int]) -> str:
        self._tokens += tokens
        self._pending += len(tokens)
        if self._written is not None:
            self._written += [False] * len(tokens)
        return self._decoder.push(tokens)

    def _rewound(self, change: Rewrite) -> None:
        kept = self._tokens[: change.keep]
        self._written = (self._written or [False] * len(self._tokens))[: change.keep] + [True] * len(change.insert)
        self._tokens = kept + list(change.insert)
        self._decoder = IncrementalDecoder(self._engine.loaded.tokenizer)
        self._text, self._pending = [self._decoder.push(self._tokens)], 0
        self._rewrites += 1
        self._rewriting, self._held = False, []

    def _finish(self, finish_reason: str) -> Iterator[EngineDelta]:
        if self._held:  # the row ended before the engine took the rewrite: it was not applied
            text = self._push(self._held)
            self._held = []
            if text:
                yield self._delta(text)
        tail = self._decoder.flush()
        if tail or self._pending:
            yield self._delta(tail)
        self.completion = self._completion(finish_reason)

    def _completion(self, finish_reason: str) -> Completion:
        tokens = self._tokens[: len(self._tokens) - self._pending]  # only what the caller has seen
        return Completion(
            text="".join(self._text),
            token_ids=tokens,
            finish_reason=finish_reason,
            prompt_tokens=len(self._request.prompt_ids),
            completion_tokens=self._sampled - self._pending,
            token_logprobs=self._request.logprobs[: len(tokens)] if self._request.params.logprobs else None,
            rewrites=self._rewrites,
            written=None if self._written is None else self._written[: len(tokens)],
        )

    def _delta(self, text: str) -> EngineDelta:
        delta = EngineDelta(text=text, tokens=self._pending)
        self._text.append(text)
        self._pending = 0
        return delta
