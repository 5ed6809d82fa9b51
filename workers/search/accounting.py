"""Where the compute of one search went: tokens generated, tokens scored, seconds per phase.

Every engine call in a search goes through `Ledger.generate`, so the totals cannot
drift from what the strategies actually asked for.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Ledger:
    generated_tokens: int = 0
    sequences: int = 0
    engine_calls: int = 0
    scored_tokens: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    # The "verify" phase split by verifier (these overlap "verify"; they are not a further phase).
    verifier_seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    def generate(self, engine, prompts: list[list[int]], params, *, should_stop=None, stop_when=None,
                 enough=None) -> list:
        with self.phase("generate"):
            extra = {k: v for k, v in (("stop_when", stop_when), ("enough", enough)) if v is not None}
            completions = engine.generate(prompts, params, should_stop=should_stop, **extra)
        if len(completions) != len(prompts):
            raise RuntimeError(f"The engine returned {len(completions)} completions for {len(prompts)} prompts.")
        self.engine_calls += 1
        self.sequences += len(completions)
        self.generated_tokens += sum(c.completion_tokens for c in completions)
        return completions
