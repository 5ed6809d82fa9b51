"""Generate for many concurrent requests with one model, batched step by step.

One background thread owns the model. Callers on any thread submit a prompt
and read the tokens back from their own queue. Between decoding steps the
thread prefills newly arrived prompts together, merges them into the running
batch (continuous batching) and drops rows that finished or were stopped, so
a request never waits for another request to finish.

Work that belongs to the caller (detokenizing, polling ``should_stop``) runs on
the caller's thread, so a slow stop check never holds up the batch.

A caller may also rewrite a row while it runs (``generate(rewrite=)``): keep its first
k tokens and write others after them, as a calculator does when the model states a
wrong result. Between two steps the engine hides the dropped tokens' cache columns
from attention and feeds the written tokens as if sampled, so the row goes on from
the rewritten text in the same batch, with no new prefill and no waiting for the
other rows.
"""

from __future__ import annotations

import collections
import functools
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from workers.engine.detokenize import IncrementalDecoder
from workers.engine.kv_batch import PaddedKV, new_cache, prefill_inputs
from workers.engine.llama_decode import LlamaDecoder
from workers.engine.loading import LoadedModel, load_model
from workers.engine.sampling import SamplingParams, TokenSampler, pick_tokens

__all__ = ["BatchEngine", "Completion", "Delta", "EngineError", "EngineStats", "Rewrite", "SamplingParams", "Stream",
           "get_engine"]

logger = logging.getLogger(__name__)

# How often a waiting caller re-checks should_stop and whether the engine is alive.
POLL_SECONDS = 0.05


class EngineError(RuntimeError):
    """Generation failed inside the engine; ``__cause__`` holds the original error."""


@dataclass(frozen=True)
class Delta:
    text: str
    tokens: int  # how many generated tokens this piece of text covers


@dataclass(frozen=True)
class Rewrite:
    """Keep the row's first ``keep`` tokens and write ``insert`` after them; sampling goes on from there."""

    keep: int
    insert: list[int]


@dataclass(frozen=True)
class Completion:
    text: str
    token_ids: list[int]  # the row's tokens (as rewritten, if it was), without the stop token
    finish_reason: str  # "stop" (end-of-turn token), "length" (max_new_tokens) or "stopped" (should_stop/close)
    prompt_tokens: int
    # Tokens the model sampled, including any a rewrite dropped; none of the written ones.
    completion_tokens: int
    # One per token of token_ids when SamplingParams.logprobs was set, else None; NaN for written tokens.
    token_logprobs: list[float] | None = None
    # Rewrites applied, and for each of token_ids whether a rewrite wrote it (None when none was applied).
    rewrites: int = 0
    written: list[bool] | None = None


@dataclass
class EngineStats:
    """Counters for benchmarks and tests; written by the engine thread only."""

    steps: int = 0  # decoding steps run
    prefills: int = 0  # prefill passes run (each may admit several requests)
    peak_rows: int = 0  # most requests decoding together so far
    rows: int = 0  # requests decoding right now
    waiting: int = 0  # requests queued for a place in the batch
    rewrites: int = 0  # rewrites applied to running rows


@dataclass(eq=False)
class _Request:
    prompt_ids: list[int]
    params: SamplingParams
    sampler: TokenSampler
    events: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    # The fields below belong to the engine thread.
    tokens: list[int] = field(default_factory=list)  # the row's tokens so far, next_token and forced included
    fed: int = 0  # tokens of `tokens` in the cache
    next_token: int = -1  # sampled (or written) but not yet fed to the model
    forced: collections.deque = field(default_factory=collections.deque)  # written tokens to feed after next_token
    logprobs: list[float] = field(default_factory=list)  # one per token of `tokens` when params.logprobs


class BatchEngine:
    # generate() takes rewrite= (the search's calculator asks for it).
    can_rewrite = True

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        max_batch_size: int = 16,
        max_prefill_tokens: int = 2048,
        gather_seconds: float = 0.005,
        fast_decode: bool = True,
    ) -> None:
        self.loaded = loaded
        self.max_batch_size = max_batch_size
        # Bounds how long one prefill stalls the running rows (padded tokens); one prompt is always admitted.
        self.max_prefill_tokens = max_prefill_tokens
        # When idle, wait this long after the first arrival so requests sent together are prefilled together.
        self.gather_seconds = gather_seconds
        self._vocab_size = loaded.model.get_output_embeddings().weight.shape[0]
        self._pad_id = loaded.tokenizer.pad_token_id or 0
        new_cache(loaded.model.config)  # fail now, not on the first request, for unsupported models
        # Decoding steps of Llama models on the CPU skip transformers' forward (see llama_decode); None: they don't.
        # Built on the engine thread, which does all of the engine's parallel torch work (see in_passing_thread).
        self.decoder: LlamaDecoder | None = None
        self._fast_decode = fast_decode
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._inbox: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._rewrites: queue.SimpleQueue[tuple[_Request, Rewrite]] = queue.SimpleQueue()
        self._waiting: collections.deque[_Request] = collections.deque()
        self._rows: list[_Request] = []
        self._kv: PaddedKV | None = None
        self._closed = False
        self.stats = EngineStats()
        self._thread = threading.Thread(target=self._run, name=f"batch-engine-{loaded.source}", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._start_error is not None:
            raise self._start_error

    # ------------------------------------------------------------------ callers

    def stream(
        self,
        prompt_ids: list[int],
        params: SamplingParams,
        *,
        should_stop: Callable[[], bool] | None = None,
    ) -> Stream:
        """Start generating now; iterate the result for text pieces, then read ``.completion``."""
        return Stream(self, self._submit(prompt_ids, params), should_stop)

    def generate(
        self,
        prompts: list[list[int]],
        params: SamplingParams | Sequence[SamplingParams],
        *,
        should_stop: Callable[[], bool] | None = None,
        stop_when: Callable[[int, str], bool] | None = None,
        enough: int | None = None,
        rewrite: Callable[[int, str, list[int]], Rewrite | None] | None = None,
    ) -> list[Completion]:
        """Generate for all prompts together and return their completions in order.

        With one ``params`` carrying a seed, prompt ``i`` samples with ``seed + i``, so
        N copies of one prompt give N different (reproducible) answers.

        ``stop_when(i, text)`` is asked with row ``i``'s text so far after each new piece;
        when it says True the row ends there with finish_reason "stop" and leaves the
        batch at the next step (e.g. once an answer is complete). Once ``enough`` rows have
        ended, the rows still going end too, as "stopped" with their text so far.

        ``rewrite(i, text, token_ids)`` is asked before ``stop_when`` with row ``i``'s text
        and tokens so far; a Rewrite it returns is applied between two steps, and the row's
        text and tokens are the rewritten ones from then on. While one is on its way the
        row is not asked again. If the row ends before the engine gets to it, it is not
        applied (the completion's ``rewrites`` counts those that were).
        """
        if isinstance(params, SamplingParams):
            params = [
                params if params.seed is None else replace(params, seed=params.seed + i) for i in range(len(prompts))
            ]
        if len(params) != len(prompts):
            raise ValueError("Pass one SamplingParams, or one per prompt.")
        if enough is None or enough >= len(prompts):
            enough, row_should_stop = None, should_stop
        else:
            cut, ended, lock = threading.Event(), [0], threading.Lock()

            def row_should_stop() -> bool:
                return cut.is_set() or (should_stop is not None and should_stop())

        streams = [self.stream(p, sp, should_stop=row_should_stop) for p, sp in zip(prompts, params, strict=True)]

        def read(i: int) -> Completion:
            completion = streams[i].run(stop_when=stop_when and functools.partial(stop_when, i),
                                        rewrite=rewrite and functools.partial(rewrite, i))
            if enough is not None:
                with lock:
                    ended[0] += 1
                    if ended[0] >= enough:
                        cut.set()
            return completion

        try:
            if (stop_when is None and enough is None and rewrite is None) or len(streams) < 2:
                return [read(i) for i in range(len(streams))]
            # Each row is read as it arrives, so that a row stops when it is done, not when read.
            with ThreadPoolExecutor(max_workers=len(streams), thread_name_prefix="engine-reader") as pool:
                return list(pool.map(read, range(len(streams))))
        finally:
            for s in streams:
                s.close()

    def close(self) -> None:
        """Stop the engine thread; unfinished requests fail with EngineError."""
        self._closed = True
        self._inbox.put(None)
        self._thread.join()

    @property
    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _submit(self, prompt_ids: list[int], params: SamplingParams) -> _Request:
        if self._closed:
            raise EngineError("The engine is closed.")
        params.validate()
        if not prompt_ids:
            raise ValueError("The prompt is empty.")
        limit = self.loaded.max_length
        room = limit - len(prompt_ids)
        if room < 1:
            raise ValueError(f"The prompt has {len(prompt_ids)} tokens; the model takes at most {limit}.")
        if params.max_new_tokens > room:
            params = replace(params, max_new_tokens=room)
        sampler = TokenSampler(params, prompt_ids, self._vocab_size, self.loaded.device)
        request = _Request(prompt_ids=list(prompt_ids), params=params, sampler=sampler)
        self._inbox.put(request)
        return request

    # ----------------------------------------------------------- engine thread

    def _run(self) -> None:
        try:
            if self._fast_decode:
                loaded = self.loaded
                self.decoder = LlamaDecoder.for_model(loaded.model, loaded.device, max_rows=self.max_batch_size)
        except BaseException as exc:  # raised by the constructor
            self._start_error = exc
            return
        finally:
            self._started.set()
        with torch.inference_mode():
            while True:
                self._collect_arrivals()
                if self._closed:
                    break
                try:
                    self._admit()
                    self._apply_rewrites()
                    if self._rows:
                        self._decode_step()
                except Exception as exc:  # the batch state is suspect: fail its rows, keep serving
                    logger.exception("Decoding step failed; failing %d requests", len(self._rows))
                    for request in self._rows:
                        request.events.put(("error", exc))
                    self._rows, self._kv = [], None
                self.stats.rows, self.stats.waiting = len(self._rows), len(self._waiting)
        error = EngineError("The engine was closed before this request finished.")
        for request in [*self._rows, *self._waiting]:
            request.events.put(("error", error))
        while True:
            try:
                leftover = self._inbox.get_nowait()
            except queue.Empty:
                break
            if leftover is not None:
                leftover.events.put(("error", error))

    def _collect_arrivals(self) -> None:
        idle = not self._rows and not self._waiting
        if idle:
            request = self._inbox.get()
            if request is None:
                return
            self._waiting.append(request)
            time.sleep(self.gather_seconds)
        while True:
            try:
                request = self._inbox.get_nowait()
            except queue.Empty:
                return
            if request is None:
                return
            self._waiting.append(request)

    def _admit(self) -> None:
        admitted: list[_Request] = []
        width = 0
        while self._waiting and len(self._rows) + len(admitted) < self.max_batch_size:
            request = self._waiting[0]
            if request.cancelled.is_set():
                self._waiting.popleft()
                request.events.put(("done", "stopped"))
                continue
            new_width = max(width, len(request.prompt_ids))
            if admitted and new_width * (len(admitted) + 1) > self.max_prefill_tokens:
                break
            admitted.append(self._waiting.popleft())
            width = new_width
        if not admitted:
            return
        try:
            kv, logits = self._prefill(admitted)
        except Exception as exc:  # only these requests are affected; the running batch is untouched
            logger.exception("Prefill failed for %d requests", len(admitted))
            for request in admitted:
                request.events.put(("error", exc))
            return
        keep = self._accept_all(admitted, logits)
        if not keep:
            return
        # Rows first: if merging fails, the caller's handler fails them along with the batch.
        self._rows.extend(admitted[i] for i in keep)
        if len(keep) < len(admitted):
            kv.keep(keep)
        if self._kv is None:
            self._kv = kv
        else:
            self._kv.extend(kv)
        self.stats.peak_rows = max(self.stats.peak_rows, len(self._rows))

    def _prefill(self, requests: list[_Request]) -> tuple[PaddedKV, torch.Tensor]:
        # Copies of one prompt (N samples of one question) go through the model once; their rows share it.
        unique: dict[tuple[int, ...], int] = {}
        rows = [unique.setdefault(tuple(r.prompt_ids), len(unique)) for r in requests]
        model = self.loaded.model
        ids, mask, positions = prefill_inputs([list(p) for p in unique], self._pad_id, self.loaded.device)
        cache = new_cache(model.config)
        output = model(
            input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True, logits_to_keep=1
        )
        lengths = torch.tensor([len(p) for p in unique], device=self.loaded.device)
        self.stats.prefills += 1
        kv = PaddedKV(cache=cache, mask=mask, next_positions=lengths)
        logits = output.logits[:, -1, :].float()
        if len(unique) < len(requests):
            kv.keep(rows)
            logits = logits[rows]
        return kv, logits

    def _decode_step(self) -> None:
        kv = self._kv
        ids = torch.tensor([r.next_token for r in self._rows], dtype=torch.long, device=self.loaded.device)
        mask, positions = kv.append_column()
        if self.decoder is not None:
            logits = self.decoder.step(ids, positions[:, 0], mask, kv.cache)
        else:
            output = self.loaded.model(
                input_ids=ids[:, None],
                attention_mask=mask,
                position_ids=positions,
                cache=kv.cache,
                use_cache=True,
                logits_to_keep=1,
            )
            logits = output.logits[:, -1, :].float()
        self.stats.steps += 1
        for request in self._rows:
            request.fed += 1
        self._retain(self._accept_all(self._rows, logits))

    def _retain(self, keep: list[int]) -> None:
        """Keep only the rows at these indices of the batch."""
        if len(keep) < len(self._rows):
            self._rows = [self._rows[i] for i in keep]
            if keep:
                self._kv.keep(keep)
            else:
                self._kv = None

    def _apply_rewrites(self) -> None:
        ended = set()
        while True:
            try:
                request, rewrite = self._rewrites.get_nowait()
            except queue.Empty:
                break
            # A request that has ended (or has not started) has left the batch: its reader sees the end.
            row = next((i for i, r in enumerate(self._rows) if r is request), None)
            if row is not None and row not in ended and not self._rewrite(row, request, rewrite):
                ended.add(row)
        if ended:
            self._retain([i for i in range(len(self._rows)) if i not in ended])

    def _rewrite(self, row: int, request: _Request, rewrite: Rewrite) -> bool:
        """Apply a rewrite to a row of the batch; return whether the row goes on."""
        keep, insert = rewrite.keep, list(rewrite.insert)
        dropped = max(0, request.fed - keep)
        if dropped:
            self._kv.forget(row, dropped)
            request.fed -= dropped
        to_feed = request.tokens[request.fed: keep] + insert
        request.tokens = request.tokens[:keep] + insert
        if request.params.logprobs:
            request.logprobs = request.logprobs[:keep] + [math.nan] * len(insert)
        request.next_token, request.forced = to_feed[0], collections.deque(to_feed[1:])
        self._kv.next_positions[row] = len(request.prompt_ids) + request.fed
        request.sampler.restart(request.tokens)
        request.events.put(("rewound", rewrite))
        self.stats.rewrites += 1
        if len(request.tokens) >= request.params.max_new_tokens:
            request.events.put(("done", "length"))
            return False
        return True

    def _accept_all(self, requests: list[_Request], logits: torch.Tensor) -> list[int]:
        """Pick every row's next token (all rows at once) and hand each over; return the rows that go on."""
        live = [i for i, request in enumerate(requests) if not request.cancelled.is_set()]
        for request in requests:
            if request.cancelled.is_set():
                request.events.put(("done", "stopped"))
        # A row still feeding written tokens takes the next of them, not a sample.
        writing = [i for i in live if requests[i].forced]
        for i in writing:
            requests[i].next_token = requests[i].forced.popleft()
        if writing:
            live = [i for i in live if not requests[i].forced and i not in writing]
        if not live:
            return writing
        logits = logits[live] if len(live) < len(requests) else logits
        try:
            tokens = pick_tokens(logits, [requests[i].sampler for i in live], [len(requests[i].tokens) for i in live])
        except Exception as exc:  # e.g. a sampler's own state; the rows of this step fail, the engine goes on
            logger.exception("Sampling failed for %d requests", len(live))
            tokens = [exc] * len(live)
        wants_logprobs = [j for j, i in enumerate(live) if requests[i].params.logprobs]
        logprobs: dict[int, float] = {}
        if wants_logprobs:
            rows = torch.tensor(wants_logprobs, device=logits.device)
            chosen = torch.tensor([t if isinstance(t, int) else 0 for t in (tokens[j] for j in wants_logprobs)],
                                  device=logits.device)
            values = logits[rows, chosen] - torch.logsumexp(logits[rows], dim=-1)
            logprobs = dict(zip(wants_logprobs, values.tolist(), strict=True))
        going = [i for j, i in enumerate(live) if self._accept(requests[i], tokens[j], logprobs.get(j))]
        return sorted(writing + going)

    def _accept(self, request: _Request, token: int | Exception, logprob: float | None) -> bool:
        """Hand the request its next token; return whether it goes on."""
        if isinstance(token, Exception):
            logger.error("Sampling failed for one request: %s", token)
            request.events.put(("error", token))
            return False
        if token in self.loaded.stop_token_ids:
            request.events.put(("done", "stop"))
            return False
        request.tokens.append(token)
        request.next_token = token
        if logprob is not None:
            request.logprobs.append(logprob)
        request.events.put(("token", token))
        if len(request.tokens) >= request.params.max_new_tokens:
            request.events.put(("done", "length"))
            return False
        return True


class Stream(Iterator[Delta]):
    """Text pieces of one request as the engine produces them.

    ``completion`` is set once iteration ends. Closing the stream (or dropping
    it) frees the request's place in the batch at the next step.
    """

    def __init__(self, engine: BatchEngine, request: _Request, should_stop: Callable[[], bool] | None) -> None:
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

    def __next__(self) -> Delta:
        return next(self._deltas)

    def run(
        self,
        *,
        stop_when: Callable[[str], bool] | None = None,
        rewrite: Callable[[str, list[int]], Rewrite | None] | None = None,
    ) -> Completion:
        """Consume the stream and return its completion; end it as "stop" once ``stop_when(text so far)``.

        ``rewrite(text, token_ids)`` may ask for a Rewrite of the row (see BatchEngine.generate).
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
        return self.completion

    def _ask_rewrite(self, change: Rewrite) -> None:
        seen = len(self._tokens) - self._pending
        if not 0 <= change.keep <= seen:
            raise ValueError(f"A rewrite keeps {change.keep} tokens of the {seen} generated so far.")
        if not change.insert or not all(0 <= t < self._engine._vocab_size for t in change.insert):
            raise ValueError("A rewrite writes at least one token, each in the model's vocabulary.")
        self._rewriting = True
        self._engine._rewrites.put((self._request, change))

    def close(self, *, finish_reason: str = "stopped") -> None:
        """Stop reading; an unfinished request ends as ``finish_reason`` with the text read so far."""
        self._request.cancelled.set()
        self._deltas.close()
        if self.completion is None:
            self.completion = self._completion(finish_reason)

    def __del__(self) -> None:
        self._request.cancelled.set()

    def _produce(self) -> Iterator[Delta]:
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

    def _finish(self, finish_reason: str) -> Iterator[Delta]:
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

    def _delta(self, text: str) -> Delta:
        delta = Delta(text=text, tokens=self._pending)
        self._text.append(text)
        self._pending = 0
        return delta


_engines: dict[int, BatchEngine] = {}  # by id() of the LoadedModel, which load_model keeps alive
_engines_lock = threading.Lock()


def get_engine(
    source: str,
    *,
    device: str = "auto",
    dtype: str = "auto",
    cache_dir: Path | None = None,
    max_batch_size: int = 16,
) -> BatchEngine:
    """Return this process's shared engine for ``source``, loading the model on first use.

    Every name for the same model on the same device ("smollm2", its file path)
    gets the same engine. ``cache_dir`` and ``max_batch_size`` only take effect
    on the first call for a model.
    """
    loaded = load_model(source, device=device, dtype=dtype, cache_dir=cache_dir)
    with _engines_lock:
        engine = _engines.get(id(loaded))
        if engine is None or not engine.is_alive:
            engine = _engines[id(loaded)] = BatchEngine(loaded, max_batch_size=max_batch_size)
        return engine


def _forget_engines_in_child() -> None:
    # A forked child (Celery prefork) inherits the registry but not the engine threads.
    global _engines_lock
    _engines.clear()
    _engines_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_engines_in_child)
