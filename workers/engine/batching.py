"""Generate for many concurrent requests with one model, batched step by step.

One background thread owns the model. Callers on any thread submit a prompt
and read the tokens back from their own queue. Between decoding steps the
thread prefills newly arrived prompts together, merges them into the running
batch (continuous batching) and drops rows that finished or were stopped, so
a request never waits for another request to finish.

Work that belongs to the caller (detokenizing, polling ``should_stop``) runs on
the caller's thread, so a slow stop check never holds up the batch.
"""

from __future__ import annotations

import collections
import functools
import logging
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

__all__ = ["BatchEngine", "Completion", "Delta", "EngineError", "EngineStats", "SamplingParams", "Stream", "get_engine"]

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
class Completion:
    text: str
    token_ids: list[int]  # generated tokens, without the stop token
    finish_reason: str  # "stop" (end-of-turn token), "length" (max_new_tokens) or "stopped" (should_stop/close)
    prompt_tokens: int
    completion_tokens: int
    # One per token of token_ids when SamplingParams.logprobs was set, else None.
    token_logprobs: list[float] | None = None


@dataclass
class EngineStats:
    """Counters for benchmarks and tests; written by the engine thread only."""

    steps: int = 0  # decoding steps run
    prefills: int = 0  # prefill passes run (each may admit several requests)
    peak_rows: int = 0  # most requests decoding together so far
    rows: int = 0  # requests decoding right now
    waiting: int = 0  # requests queued for a place in the batch


@dataclass(eq=False)
class _Request:
    prompt_ids: list[int]
    params: SamplingParams
    sampler: TokenSampler
    events: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    generated: int = 0
    next_token: int = -1  # sampled but not yet fed to the model
    logprobs: list[float] = field(default_factory=list)  # appended by the engine thread only


class BatchEngine:
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
    ) -> list[Completion]:
        """Generate for all prompts together and return their completions in order.

        With one ``params`` carrying a seed, prompt ``i`` samples with ``seed + i``, so
        N copies of one prompt give N different (reproducible) answers.

        ``stop_when(i, text)`` is asked with row ``i``'s text so far after each new piece;
        when it says True the row ends there with finish_reason "stop" and leaves the
        batch at the next step (e.g. once an answer is complete). Once ``enough`` rows have
        ended, the rows still going end too, as "stopped" with their text so far.
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
            completion = streams[i].run(stop_when=stop_when and functools.partial(stop_when, i))
            if enough is not None:
                with lock:
                    ended[0] += 1
                    if ended[0] >= enough:
                        cut.set()
            return completion

        try:
            if (stop_when is None and enough is None) or len(streams) < 2:
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
        keep = self._accept_all(self._rows, logits)
        if len(keep) < len(self._rows):
            self._rows = [self._rows[i] for i in keep]
            if keep:
                kv.keep(keep)
            else:
                self._kv = None

    def _accept_all(self, requests: list[_Request], logits: torch.Tensor) -> list[int]:
        """Pick every row's next token (all rows at once) and hand each over; return the rows that go on."""
        live = [i for i, request in enumerate(requests) if not request.cancelled.is_set()]
        for request in requests:
            if request.cancelled.is_set():
                request.events.put(("done", "stopped"))
        if not live:
            return []
        logits = logits[live] if len(live) < len(requests) else logits
        try:
            tokens = pick_tokens(logits, [requests[i].sampler for i in live])
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
        return [i for j, i in enumerate(live) if self._accept(requests[i], tokens[j], logprobs.get(j))]

    def _accept(self, request: _Request, token: int | Exception, logprob: float | None) -> bool:
        """Hand the request its next token; return whether it goes on."""
        if isinstance(token, Exception):
            logger.error("Sampling failed for one request: %s", token)
            request.events.put(("error", token))
            return False
        if token in self.loaded.stop_token_ids:
            request.events.put(("done", "stop"))
            return False
        request.generated += 1
        request.next_token = token
        if logprob is not None:
            request.logprobs.append(logprob)
        request.events.put(("token", token))
        if request.generated >= request.params.max_new_tokens:
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
        self._deltas = self._produce()

    def __next__(self) -> Delta:
        return next(self._deltas)

    def run(self, *, stop_when: Callable[[str], bool] | None = None) -> Completion:
        """Consume the stream and return its completion; end it as "stop" once ``stop_when(text so far)``."""
        for _ in self:
            if stop_when is not None and stop_when("".join(self._text)):
                self.close(finish_reason="stop")
                break
        return self.completion

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
                    self._tokens.append(value)
                    self._pending += 1
                    text = self._decoder.push([value])
                    if text:
                        yield self._delta(text)
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

    def _finish(self, finish_reason: str) -> Iterator[Delta]:
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
            completion_tokens=len(tokens),
            token_logprobs=self._request.logprobs[: len(tokens)] if self._request.params.logprobs else None,
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
