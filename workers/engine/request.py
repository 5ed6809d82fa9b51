"""What passes between a caller's Stream and the engine thread for one request."""

from __future__ import annotations

import collections
import queue
import threading
from dataclasses import dataclass, field

from workers.engine.token_sampling import SamplingParams, TokenSampler


class EngineError(RuntimeError):
    """Generation failed inside the engine; ``__cause__`` holds the original error."""


@dataclass(frozen=True)
class Rewrite:
    """Keep the row's first ``keep`` tokens and write ``insert`` after them; sampling goes on from there."""

    keep: int
    insert: list[int]


@dataclass(eq=False)
class Request:
    """One submitted prompt: the engine thread sends ``events`` to its Stream, the Stream sets ``cancelled``."""

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
