"""Generate for many concurrent requests with one model, batched step by step.

One background thread owns the model. Callers on any thread submit a prompt
and read the tokens back from their own queue. Between decoding steps the
thread prefills newly arrived prompts together, merges them into the running
batch (continuous batching) and drops rows that finished or were stopped, so
a request never waits for another request to finish.

Work that belongs to the caller (detokenizing, polling ``should_stop``) runs on
the caller's thread in its Stream (see stream.py), so a slow stop check never holds up the batch.

A caller may also rewrite a row while it runs (``generate(rewrite=)``): keep its first
k tokens and write others after them, as a calculator does when the model states a
wrong result. Between two steps the engine hides the dropped tokens' cache columns
from attention and feeds the written tokens as if sampled, so the row goes on from
the rewritten text in the same batch, with no new prefill and no waiting for the
other rows.

``start`` returns the running rows (running_batch.py): a caller can judge every row
after its first tokens, end the rows it does not want, and follow one row on its
own as it is generated.
"""

from __future__ import annotations

import collections
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch

from workers.engine.kv_batch import PaddedKV, new_cache, prefill_inputs
from workers.engine.llama_decode import LlamaDecoder
from workers.engine.loading import LoadedModel
from workers.engine.request import EngineError, Request, Rewrite
from workers.engine.running_batch import RunningBatch
from workers.engine.stream import Completion, Stream
from workers.engine.token_sampling import SamplingParams, TokenSampler, pick_tokens

__all__ = ["BatchEngine", "EngineStats"]

logger = logging.getLogger(__name__)


@dataclass
class EngineStats:
    """Counters for benchmarks and tests; written by the engine thread only."""

    steps: int = 0  # decoding steps run
    prefills: int = 0  # prefill passes run (each may admit several requests)
    peak_rows: int = 0  # most requests decoding together so far
    rows: int = 0  # requests decoding right now
    waiting: int = 0  # requests queued for a place in the batch
    rewrites: int = 0  # rewrites applied to running rows


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
        self.vocab_size = loaded.model.get_output_embeddings().out_features
        self._pad_id = loaded.tokenizer.pad_token_id or 0
        new_cache(loaded.model.config)  # fail now, not on the first request, for unsupported models
        # Decoding steps of Llama models on the CPU skip transformers' forward (see llama_decode); None: they don't.
        # Built on the engine thread, which does all of the engine's parallel torch work (see in_passing_thread).
        self.decoder: LlamaDecoder | None = None
        self._fast_decode = fast_decode
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._inbox: queue.SimpleQueue[Request | None] = queue.SimpleQueue()
        self._rewrites: queue.SimpleQueue[tuple[Request, Rewrite]] = queue.SimpleQueue()
        self._waiting: collections.deque[Request] = collections.deque()
        self._rows: list[Request] = []
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
        with self.start(prompts, params, should_stop=should_stop, stop_when=stop_when, enough=enough,
                        rewrite=rewrite) as batch:
            return batch.completions()

    def start(
        self,
        prompts: list[list[int]],
        params: SamplingParams | Sequence[SamplingParams],
        *,
        should_stop: Callable[[], bool] | None = None,
        stop_when: Callable[[int, str], bool] | None = None,
        enough: int | None = None,
        rewrite: Callable[[int, str, list[int]], Rewrite | None] | None = None,
        mark_at: int | None = None,
    ) -> RunningBatch:
        """Start what ``generate`` does and return at once with the running rows.

        The RunningBatch keeps each row as it stood at ``mark_at`` tokens, ends single rows
        and follows one row's text as it grows (see running_batch.py); close it when done.
        """
        if isinstance(params, SamplingParams):
            params = [
                params if params.seed is None else replace(params, seed=params.seed + i) for i in range(len(prompts))
            ]
        if len(params) != len(prompts):
            raise ValueError("Pass one SamplingParams, or one per prompt.")
        cut = None
        row_should_stop = should_stop
        if enough is not None and enough < len(prompts):
            cut = threading.Event()

            def row_should_stop() -> bool:
                return cut.is_set() or (should_stop is not None and should_stop())

        streams = []
        try:
            for p, sp in zip(prompts, params, strict=True):
                streams.append(self.stream(p, sp, should_stop=row_should_stop))
        except BaseException:
            for s in streams:
                s.close()
            raise
        return RunningBatch(streams, stop_when=stop_when, rewrite=rewrite, enough=enough, cut=cut, mark_at=mark_at)

    def close(self) -> None:
        """Stop the engine thread; unfinished requests fail with EngineError."""
        self._closed = True
        self._inbox.put(None)
        self._thread.join()

    @property
    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def request_rewrite(self, request: Request, rewrite: Rewrite) -> None:
        """Apply ``rewrite`` to the request's row between two steps (see ``generate(rewrite=)``)."""
        if not rewrite.insert or not all(0 <= t < self.vocab_size for t in rewrite.insert):
            raise ValueError("A rewrite writes at least one token, each in the model's vocabulary.")
        self._rewrites.put((request, rewrite))

    def _submit(self, prompt_ids: list[int], params: SamplingParams) -> Request:
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
        sampler = TokenSampler(params, prompt_ids, self.vocab_size, self.loaded.device)
        request = Request(prompt_ids=list(prompt_ids), params=params, sampler=sampler)
        self._inbox.put(request)
        return request

    # ----------------------------------------------------------- engine thread

    def _run(self) -> None:
        try:
            if self._fast_decode:
                loaded = self.loaded
                self.decoder = LlamaDecoder.for_model(loaded.model, loaded.device)
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
        admitted: list[Request] = []
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

    def _prefill(self, requests: list[Request]) -> tuple[PaddedKV, torch.Tensor]:
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

    def _rewrite(self, row: int, request: Request, rewrite: Rewrite) -> bool:
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

    def _accept_all(self, requests: list[Request], logits: torch.Tensor) -> list[int]:
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

    def _accept(self, request: Request, token: int | Exception, logprob: float | None) -> bool:
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
