"""Fixtures for the search tests: the tiny model behind a real BatchEngine, a scripted engine, a small corpus."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from workers.engine import BatchEngine, Completion, load_model
from workers.engine.tiny import build_tiny_model
from workers.search.corpus import build_pydoc_corpus

SMALL_CORPUS_MODULES = ("base64", "bisect", "heapq", "json", "statistics", "textwrap", "uuid")


@pytest.fixture(scope="session")
def tiny():
    """(engine, loaded) for the tiny random model; its text is gibberish but every code path is real."""
    path = build_tiny_model(Path(tempfile.mkdtemp(prefix="search-tiny-")) / "model")
    loaded = load_model(str(path), device="cpu")
    engine = BatchEngine(loaded, max_batch_size=16)
    yield engine, loaded
    engine.close()


class ScriptedEngine:
    """Answers each prompt with `respond(prompt_text)`, so selection logic can be tested on known answers.

    It follows the engine contract: token ids without the stop token, "length" when
    max_new_tokens cuts the text, and one call per `generate` or `start`. With `rewrites` it takes
    generate(rewrite=) as BatchEngine does: a rewrite keeps the row's first tokens, writes
    its own, and the row goes on with `respond` to the prompt and the rewritten text.
    """

    def __init__(self, loaded, respond: Callable[[str, int], str], *, rewrites: bool = False):
        self.loaded = loaded
        self.respond = respond
        self.can_rewrite = rewrites
        self.calls: list[int] = []
        self.started: list[int] = []  # calls made through start (they are in calls too)
        self.served = 0

    def start(self, prompts, params, *, should_stop=None, stop_when=None, enough=None, rewrite=None, mark_at=None):
        self.started.append(len(prompts))
        completions = self.generate(prompts, params, should_stop=should_stop, stop_when=stop_when, enough=enough,
                                    rewrite=rewrite)
        return ScriptedBatch(self.loaded.tokenizer, completions, mark_at)

    def generate(self, prompts, params, *, should_stop=None, stop_when=None, enough=None, rewrite=None):
        assert rewrite is None or self.can_rewrite
        tokenizer = self.loaded.tokenizer
        self.calls.append(len(prompts))
        if not isinstance(params, (list, tuple)):
            params = [params] * len(prompts)
        first = []
        for prompt in prompts:  # every row's first answer, in order, before any rewrite asks for more
            first.append(tokenizer.encode(self.respond(tokenizer.decode(prompt), self.served),
                                          add_special_tokens=False))
            self.served += 1
        out = []
        for row, (prompt, row_params, ids) in enumerate(zip(prompts, params, first, strict=True)):
            written, rewrites, dropped, reason = [False] * len(ids), 0, 0, "stop"
            n = 1
            while n <= len(ids):  # the row as the engine streams it, a token at a time
                if n > row_params.max_new_tokens:
                    ids, written, reason = ids[: row_params.max_new_tokens], written[: row_params.max_new_tokens], \
                        "length"
                    break
                text = tokenizer.decode(ids[:n])
                change = rewrite(row, text, ids[:n]) if rewrite is not None else None
                if change is not None:
                    kept = ids[: change.keep] + list(change.insert)
                    more = tokenizer.encode(self.respond(tokenizer.decode(prompt + kept), self.served),
                                            add_special_tokens=False)
                    self.served += 1
                    written = written[: change.keep] + [True] * len(change.insert) + [False] * len(more)
                    dropped += n - change.keep
                    ids, rewrites, n = kept + more, rewrites + 1, len(kept) + 1
                    continue
                if stop_when is not None and n < len(ids) and stop_when(row, text):
                    ids, written = ids[:n], written[:n]
                    break
                n += 1
            out.append(Completion(text=tokenizer.decode(ids), token_ids=ids, finish_reason=reason,
                                  prompt_tokens=len(prompt), completion_tokens=len(ids) - sum(written) + dropped,
                                  rewrites=rewrites, written=written if rewrites else None))
        if enough is not None and enough < len(out):
            # All rows advance a token a step: when the `enough`-th shortest ends, the longer ones are cut there.
            limit = sorted(len(c.token_ids) for c in out)[enough - 1]
            out = [c if len(c.token_ids) <= limit else
                   Completion(text=tokenizer.decode(c.token_ids[:limit]), token_ids=c.token_ids[:limit],
                              finish_reason="stopped", prompt_tokens=c.prompt_tokens,
                              completion_tokens=limit - sum((c.written or [])[:limit]), rewrites=c.rewrites,
                              written=c.written and c.written[:limit])
                   for c in out]
        return out


class ScriptedBatch:
    """What BatchEngine.start returns, over rows the ScriptedEngine has already written whole: a row is marked
    as its first mark_at tokens, a stopped row ends there, and a followed row grows a token at a time."""

    def __init__(self, tokenizer, completions, mark_at):
        self.tokenizer, self.whole, self.mark_at = tokenizer, completions, mark_at
        self.stopped: set[int] = set()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def marked(self):
        return [self._cut(c, "running") if len(c.token_ids) > self.mark_at else c for c in self.whole]

    def stop(self, rows):
        self.stopped |= set(rows)

    def follow(self, row):
        ids = self.whole[row].token_ids
        for n in range(1, len(ids)):  # the piece that ends the row is not followed, as on BatchEngine
            yield self.tokenizer.decode(ids[:n])

    def completions(self):
        return [self._cut(c, "stopped") if i in self.stopped and self.mark_at is not None
                and len(c.token_ids) > self.mark_at else c for i, c in enumerate(self.whole)]

    def close(self):
        pass

    def _cut(self, c, reason):
        k = self.mark_at
        written = c.written[:k] if c.written else None
        runs = sum(1 for i, w in enumerate(written or []) if w and (i == 0 or not written[i - 1]))
        return Completion(text=self.tokenizer.decode(c.token_ids[:k]), token_ids=c.token_ids[:k],
                          finish_reason=reason, prompt_tokens=c.prompt_tokens,
                          completion_tokens=k - sum(written or []), rewrites=runs if written else 0,
                          written=written if runs else None)


@pytest.fixture
def scripted(tiny):
    _, loaded = tiny

    def make(respond, *, rewrites=False):
        return ScriptedEngine(loaded, respond, rewrites=rewrites)

    return make


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    return build_pydoc_corpus(tmp_path_factory.mktemp("corpus"), SMALL_CORPUS_MODULES)


@pytest.fixture(scope="session")
def index_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("index-cache")


def assert_compute_adds_up(result) -> None:
    """The accounting invariants every search result must satisfy."""
    trace = result.trace
    if "nodes" in trace:
        listed = trace["nodes"]
    else:
        listed = trace["candidates"]
    assert result.candidates == len(listed)
    assert result.generated_tokens == sum(item["generated_tokens"] for item in listed)
    assert result.sequences == len(listed)
    # The calculator writes tokens too (tool tokens); the answer holds only generated and tool tokens.
    assert 0 <= result.answer_tokens <= result.generated_tokens + result.tool_tokens
    assert result.overhead_tokens == result.generated_tokens + result.tool_tokens - result.answer_tokens
    if "candidates" in trace:
        assert result.tool_tokens == sum(item.get("tool_tokens", 0) for item in listed)
    assert sum(result.phase_s.values()) <= result.wall_s
    compute = result.compute()
    assert compute["generated_tokens"] + compute["tool_tokens"] == compute["answer_tokens"] + compute["overhead_tokens"]
    json.dumps(result.to_json())  # the trace must be storable as JSON
