import threading
import time

import pytest

from workers.engine.batching import BatchEngine, EngineError, SamplingParams, get_engine

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
    from workers.engine.kv_batch import GrowingLayer

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
    import torch

    engine = get_engine(str(tiny_dir), device="cpu", dtype="bfloat16")
    assert engine.loaded.dtype == torch.bfloat16 and next(engine.loaded.model.parameters()).dtype == torch.bfloat16
    assert engine is not get_engine(str(tiny_dir), device="cpu")
    completion = engine.generate([chat(tiny, "Hi")], GREEDY)[0]
    assert completion.completion_tokens > 0
    engine.close()
