import math
import threading
import time

import pytest
import torch

from workers.engine import BatchEngine, EngineError, Rewrite, SamplingParams, get_engine
from workers.engine.kv_batch import GrowingLayer

from .conftest import chat

GREEDY = SamplingParams(max_new_tokens=24, temperature=0)
QUESTIONS = [
    "Hi",
    "What is the capital of France?",
    "Write a haiku about the sea, please, with a gull in it and the smell of salt.",
    "user assistant system " * 12,
]


def alone(engine, prompt, params=GREEDY):
    return engine.generate([prompt], params)[0]


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_greedy_text_is_the_same_alone_and_batched(tiny, tiny_engine):
    prompts = [chat(tiny, q) for q in QUESTIONS]
    expected = [alone(tiny_engine, p).text for p in prompts]
    batched = tiny_engine.generate(prompts, GREEDY)
    assert [c.text for c in batched] == expected
    assert tiny_engine.stats.peak_rows == len(prompts)


def test_it_honours_max_new_tokens(tiny, tiny_engine):
    completion = alone(tiny_engine, chat(tiny, "Hi"), SamplingParams(max_new_tokens=7, temperature=0))
    assert completion.finish_reason == "length"
    assert completion.completion_tokens == len(completion.token_ids) == 7
    assert completion.prompt_tokens == len(chat(tiny, "Hi"))
    assert completion.text == tiny.tokenizer.decode(completion.token_ids)


def test_streamed_pieces_add_up_to_the_completion(tiny, tiny_engine):
    stream = tiny_engine.stream(chat(tiny, "Hi"), SamplingParams(max_new_tokens=20, temperature=0.9, seed=3))
    deltas = list(stream)
    assert "".join(d.text for d in deltas) == stream.completion.text
    assert sum(d.tokens for d in deltas) == stream.completion.completion_tokens == 20


def test_concurrent_streams_each_get_their_own_tokens(tiny, tiny_engine):
    prompts = [chat(tiny, f"{q} #{i}") for i in range(4) for q in QUESTIONS]
    expected = {i: alone(tiny_engine, p).text for i, p in enumerate(prompts)}
    results = {}

    def client(i):
        stream = tiny_engine.stream(prompts[i], GREEDY)
        results[i] = "".join(d.text for d in stream)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(prompts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == expected
    assert tiny_engine.stats.peak_rows > 1


def test_a_late_request_joins_the_running_batch(tiny, tiny_engine):
    long = tiny_engine.stream(chat(tiny, "Hi"), SamplingParams(max_new_tokens=400, temperature=0))
    next(long)
    late = tiny_engine.generate([chat(tiny, "Hello")], SamplingParams(max_new_tokens=5, temperature=0))[0]
    assert late.completion_tokens == 5
    assert tiny_engine.stats.peak_rows == 2
    assert sum(1 for _ in long) > 0 and long.completion.completion_tokens == 400


def test_should_stop_ends_a_request_within_one_step(tiny, tiny_engine):
    params = SamplingParams(max_new_tokens=1000, temperature=0)
    other = tiny_engine.stream(chat(tiny, "Hello"), SamplingParams(max_new_tokens=300, temperature=0))
    seen = []
    stop_now = threading.Event()
    stream = tiny_engine.stream(chat(tiny, "Hi"), params, should_stop=stop_now.is_set)
    for delta in stream:
        seen.append(delta)
        if len(seen) == 5:
            stop_now.set()
    assert len(seen) == 5  # nothing after the step in which should_stop turned true
    assert stream.completion.finish_reason == "stopped"
    assert stream.completion.completion_tokens == sum(d.tokens for d in seen)
    wait_until(lambda: tiny_engine.stats.rows <= 1)  # the engine dropped it, and kept the other
    assert other.run().completion_tokens == 300


def test_closing_a_stream_frees_its_place(tiny, tiny_engine):
    stream = tiny_engine.stream(chat(tiny, "Hi"), SamplingParams(max_new_tokens=1000, temperature=0))
    next(stream)
    stream.close()
    assert stream.completion.finish_reason == "stopped"
    wait_until(lambda: tiny_engine.stats.rows == 0)


def test_seeded_sampling_is_reproducible_alone_and_batched(tiny, tiny_engine):
    params = SamplingParams(max_new_tokens=16, temperature=1.0, top_p=0.9, repetition_penalty=1.2, seed=7)
    prompt = chat(tiny, "Hi")
    first = alone(tiny_engine, prompt, params)
    batched = tiny_engine.generate([chat(tiny, "Hello there"), prompt], [GREEDY, params])[1]
    assert batched.token_ids == first.token_ids


def test_one_seed_gives_each_prompt_of_a_batch_its_own_sample(tiny, tiny_engine):
    params = SamplingParams(max_new_tokens=16, temperature=1.0, seed=7)
    samples = tiny_engine.generate([chat(tiny, "Hi")] * 4, params)
    assert len({tuple(c.token_ids) for c in samples}) == 4
    assert [c.token_ids for c in tiny_engine.generate([chat(tiny, "Hi")] * 4, params)] == [
        c.token_ids for c in samples]


def test_it_rejects_a_prompt_longer_than_the_model_takes(tiny, tiny_engine):
    with pytest.raises(ValueError, match="at most"):
        tiny_engine.stream([5] * (tiny.max_length + 1), GREEDY)
    with pytest.raises(ValueError, match="temperature"):
        tiny_engine.stream(chat(tiny, "Hi"), SamplingParams(temperature=-1))


def test_a_prefill_error_reaches_its_caller_and_others_go_on(tiny, tiny_engine, monkeypatch):
    poison = tiny.tokenizer.convert_tokens_to_ids("<|endoftext|>")
    forward = tiny.model.forward

    def failing_forward(*args, input_ids=None, **kwargs):
        if input_ids is not None and bool((input_ids == poison).all(dim=1).any()):
            raise RuntimeError("boom")
        return forward(*args, input_ids=input_ids, **kwargs)

    monkeypatch.setattr(tiny.model, "forward", failing_forward)
    running = tiny_engine.stream(chat(tiny, "Hi"), SamplingParams(max_new_tokens=50, temperature=0))
    next(running)
    with pytest.raises(EngineError, match="boom") as error:
        tiny_engine.generate([[poison] * 3], GREEDY)
    assert isinstance(error.value.__cause__, RuntimeError)
    assert running.run().completion_tokens == 50
    assert alone(tiny_engine, chat(tiny, "Hi")).completion_tokens == 24


def test_a_decoding_error_fails_that_batch_and_the_engine_serves_the_next(tiny, tiny_engine, monkeypatch):
    update = GrowingLayer.update
    failed = []

    def failing_once(layer, keys, values, *args, **kwargs):
        if keys.shape[2] == 1 and not failed:  # one new column: a decoding step, whichever path runs it
            failed.append(True)
            raise RuntimeError("device lost")
        return update(layer, keys, values, *args, **kwargs)

    monkeypatch.setattr(GrowingLayer, "update", failing_once)
    with pytest.raises(EngineError, match="device lost"):
        tiny_engine.generate([chat(tiny, "Hi"), chat(tiny, "Hello")], GREEDY)
    assert alone(tiny_engine, chat(tiny, "Hi")).completion_tokens == 24


def test_a_closed_engine_fails_waiting_callers_and_refuses_new_ones(tiny):
    engine = BatchEngine(tiny)
    stream = engine.stream(chat(tiny, "Hi"), SamplingParams(max_new_tokens=10_000, temperature=0))
    next(stream)
    engine.close()
    with pytest.raises(EngineError, match="closed"):
        list(stream)
    with pytest.raises(EngineError, match="closed"):
        engine.stream(chat(tiny, "Hi"), GREEDY)


def test_get_engine_shares_one_engine_per_model(tiny_dir, tiny):
    engine = get_engine(str(tiny_dir), device="cpu")
    assert get_engine(str(tiny_dir) + "/", device="cpu") is engine
    assert engine.loaded is tiny


def test_get_engine_loads_the_requested_dtype_as_its_own_engine(tiny_dir, tiny):
    engine = get_engine(str(tiny_dir), device="cpu", dtype="bfloat16")
    assert engine.loaded.dtype == torch.bfloat16 and next(engine.loaded.model.parameters()).dtype == torch.bfloat16
    assert engine is not get_engine(str(tiny_dir), device="cpu")
    completion = engine.generate([chat(tiny, "Hi")], GREEDY)[0]
    assert completion.completion_tokens > 0
    engine.close()


# ------------------------------------------------------------------ rewrites

def rewrites_at(plan):
    """A rewrite callback: row -> list of (ask once the row has this many tokens, keep, insert)."""
    left = {row: list(steps) for row, steps in plan.items()}

    def rewrite(row, text, token_ids):
        steps = left.get(row)
        if steps and len(token_ids) >= steps[0][0]:
            _, keep, insert = steps.pop(0)
            return Rewrite(keep=keep, insert=insert)
        return None

    return rewrite


@pytest.mark.parametrize("fast_decode", [True, False], ids=["llama-decoder", "transformers-forward"])
def test_a_rewritten_row_goes_on_as_if_its_prompt_ended_with_the_rewritten_text(tiny, fast_decode):
    engine = BatchEngine(tiny, max_batch_size=16, fast_decode=fast_decode)
    try:
        prompts = [chat(tiny, "Hi"), chat(tiny, QUESTIONS[2])]  # different lengths: the batch is padded
        base = [alone(engine, p) for p in prompts]
        # Twice in one row: drop 5 of 8 tokens and write 2, then drop 2 of 9 and write 3.
        out = engine.generate(prompts, GREEDY, rewrite=rewrites_at({0: [(8, 3, [100, 101]), (9, 7, [7, 8, 9])]}))
        row = out[0]
        head = base[0].token_ids[:3] + [100, 101]
        head += alone(engine, prompts[0] + head, SamplingParams(max_new_tokens=2, temperature=0)).token_ids
        head += [7, 8, 9]
        rest = alone(engine, prompts[0] + head, SamplingParams(max_new_tokens=24 - len(head), temperature=0))
        assert row.token_ids == head + rest.token_ids
        assert row.text == tiny.tokenizer.decode(row.token_ids)
        assert row.rewrites == 2 and engine.stats.rewrites == 2
        assert [i for i, w in enumerate(row.written) if w] == [3, 4, 7, 8, 9]
        # It sampled the 8 and 9 tokens it was asked about, and everything not written after the last rewrite.
        assert row.completion_tokens >= 8 + 2 + (len(row.token_ids) - 10)
        # The other row never noticed.
        assert out[1].token_ids == base[1].token_ids and out[1].written is None and out[1].rewrites == 0
    finally:
        engine.close()


def test_a_seeded_row_samples_the_same_after_a_rewrite_however_late_it_lands(tiny, tiny_engine):
    params = SamplingParams(max_new_tokens=20, temperature=1.0, seed=5, logprobs=True)
    prompt = chat(tiny, "Hello there")
    # Asked at 6 tokens or at 12, the same rewrite gives the same row: a token's sample depends on its position.
    early = tiny_engine.generate([prompt], params, rewrite=rewrites_at({0: [(6, 4, [100])]}))[0]
    late = tiny_engine.generate([prompt], params, rewrite=rewrites_at({0: [(12, 4, [100])]}))[0]
    assert early.token_ids == late.token_ids and early.rewrites == late.rewrites == 1
    assert early.token_ids[4] == 100
    assert math.isnan(early.token_logprobs[4])
    assert all(math.isfinite(v) for i, v in enumerate(early.token_logprobs) if i != 4)


def test_a_rewrite_that_fills_the_budget_ends_the_row_at_its_length(tiny, tiny_engine):
    prompt = chat(tiny, "Hi")
    base = alone(tiny_engine, prompt, SamplingParams(max_new_tokens=10, temperature=0))
    row = tiny_engine.generate([prompt], SamplingParams(max_new_tokens=10, temperature=0),
                               rewrite=rewrites_at({0: [(4, 2, [5] * 8)]}))[0]
    assert row.token_ids == base.token_ids[:2] + [5] * 8
    assert row.finish_reason == "length" and row.rewrites == 1


def test_a_rewrite_asked_after_the_row_ended_is_not_applied(tiny, tiny_engine):
    prompt = chat(tiny, "Hi")
    params = SamplingParams(max_new_tokens=6, temperature=0)
    base = alone(tiny_engine, prompt, params)
    # The engine ends the row with its 6th token, before the caller has read it.
    row = tiny_engine.generate([prompt], params, rewrite=rewrites_at({0: [(6, 2, [5])]}))[0]
    assert (row.token_ids, row.finish_reason, row.rewrites, row.written) == (base.token_ids, "length", 0, None)


def test_a_rewrite_must_keep_tokens_the_row_has_and_write_known_ones(tiny, tiny_engine):
    prompt = chat(tiny, "Hi")
    with pytest.raises(ValueError, match="keeps 9 tokens of the 3"):
        tiny_engine.generate([prompt], GREEDY, rewrite=rewrites_at({0: [(3, 9, [5])]}))
    with pytest.raises(ValueError, match="vocabulary"):
        tiny_engine.generate([prompt], GREEDY, rewrite=rewrites_at({0: [(3, 1, [10 ** 9])]}))
    with pytest.raises(ValueError, match="at least one token"):
        tiny_engine.generate([prompt], GREEDY, rewrite=rewrites_at({0: [(3, 1, [])]}))
    assert alone(tiny_engine, prompt).completion_tokens == 24  # and the engine serves on
