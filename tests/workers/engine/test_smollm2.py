"""The real SmolLM2 model through the engine: the numbers must match plain transformers."""

import pytest
import torch

from workers.engine import SamplingParams

from .conftest import chat

pytestmark = pytest.mark.slow

GREEDY = SamplingParams(max_new_tokens=24, temperature=0)
QUESTIONS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Tell me a joke about cats. Make it a long one with a twist at the end, please, I love long jokes.",
]


def reference(loaded, prompt, max_new_tokens):
    with torch.inference_mode():
        output = loaded.model.generate(torch.tensor([prompt]), max_new_tokens=max_new_tokens, do_sample=False)
    return loaded.tokenizer.decode(output[0, len(prompt):], skip_special_tokens=True)


def test_greedy_text_in_a_batch_matches_transformers_alone(smollm2, smollm2_engine):
    prompts = [chat(smollm2, q) for q in QUESTIONS]  # different lengths, so the batch is left-padded
    expected = [reference(smollm2, p, GREEDY.max_new_tokens) for p in prompts]
    assert [c.text for c in smollm2_engine.generate(prompts, GREEDY)] == expected
    # Requests that join a batch already decoding are merged into its cache mid-way.
    first = smollm2_engine.stream(prompts[2], GREEDY)
    opening = "".join(next(first).text for _ in range(3))
    joined = smollm2_engine.generate(prompts[:2], GREEDY)
    assert [c.text for c in joined] + [opening + "".join(d.text for d in first)] == expected


def test_it_stops_at_the_end_of_the_turn(smollm2, smollm2_engine):
    completion = smollm2_engine.generate([chat(smollm2, "What is the capital of France?")], GREEDY)[0]
    assert completion.finish_reason == "stop"
    assert completion.text == "The capital of France is Paris."
    assert smollm2.tokenizer.convert_tokens_to_ids("<|im_end|>") not in completion.token_ids


def test_streamed_text_is_the_completion_text(smollm2, smollm2_engine):
    params = SamplingParams(max_new_tokens=24, temperature=0.7, seed=11)
    stream = smollm2_engine.stream(chat(smollm2, "Reply with three emoji and the word done."), params)
    pieces = [d.text for d in stream]
    assert "".join(pieces) == stream.completion.text == smollm2.tokenizer.decode(
        stream.completion.token_ids, skip_special_tokens=True)
    assert not any("\ufffd" in piece for piece in pieces)
