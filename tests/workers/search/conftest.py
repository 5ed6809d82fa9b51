"""Fixtures for the search tests: the tiny model behind a real BatchEngine, a scripted engine, a small corpus."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SMALL_CORPUS_MODULES = ("base64", "bisect", "heapq", "json", "statistics", "textwrap", "uuid")


@pytest.fixture(scope="session")
def tiny():
    """(engine, loaded) for the tiny random model; its text is gibberish but every code path is real."""
    from workers.engine.batching import BatchEngine
    from workers.engine.loading import load_model
    from workers.engine.tiny import build_tiny_model

    import tempfile
    from pathlib import Path

    path = build_tiny_model(Path(tempfile.mkdtemp(prefix="search-tiny-")) / "model")
    loaded = load_model(str(path), device="cpu")
    engine = BatchEngine(loaded, max_batch_size=16)
    yield engine, loaded
    engine.close()


class ScriptedEngine:
    """Answers each prompt with `respond(prompt_text)`, so selection logic can be tested on known answers.

    It follows the engine contract: token ids without the stop token, "length" when
    max_new_tokens cuts the text, and one call per `generate`.
    """

    def __init__(self, loaded, respond: Callable[[str, int], str]):
        self.loaded = loaded
        self.respond = respond
        self.calls: list[int] = []
        self.served = 0
        self.stopped_early = 0  # rows cut short, by max_new_tokens or stop_when

    def generate(self, prompts, params, *, should_stop=None, stop_when=None, enough=None):
        from workers.engine.batching import Completion

        self.calls.append(len(prompts))
        if not isinstance(params, (list, tuple)):
            params = [params] * len(prompts)
        out = []
        for row, (prompt, row_params) in enumerate(zip(prompts, params, strict=True)):
            text = self.respond(self.loaded.tokenizer.decode(prompt), self.served)
            self.served += 1
            ids = self.loaded.tokenizer.encode(text, add_special_tokens=False)
            reason = "stop"
            if len(ids) > row_params.max_new_tokens:
                ids, reason = ids[: row_params.max_new_tokens], "length"
            if stop_when is not None:
                end = next((n for n in range(1, len(ids)) if stop_when(row, self.loaded.tokenizer.decode(ids[:n]))),
                           None)
                if end is not None:
                    ids, reason = ids[:end], "stop"
            self.stopped_early += len(ids) < len(self.loaded.tokenizer.encode(text, add_special_tokens=False))
            out.append(Completion(text=self.loaded.tokenizer.decode(ids), token_ids=ids, finish_reason=reason,
                                  prompt_tokens=len(prompt), completion_tokens=len(ids)))
        if enough is not None and enough < len(out):
            # All rows advance a token a step: when the `enough`-th shortest ends, the longer ones are cut there.
            limit = sorted(c.completion_tokens for c in out)[enough - 1]
            out = [c if c.completion_tokens <= limit else
                   Completion(text=self.loaded.tokenizer.decode(c.token_ids[:limit]), token_ids=c.token_ids[:limit],
                              finish_reason="stopped", prompt_tokens=c.prompt_tokens, completion_tokens=limit)
                   for c in out]
        return out


@pytest.fixture
def scripted(tiny):
    _, loaded = tiny

    def make(respond):
        return ScriptedEngine(loaded, respond)

    return make


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    from workers.search.corpus import build_pydoc_corpus

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
    import json

    json.dumps(result.to_json())  # the trace must be storable as JSON
