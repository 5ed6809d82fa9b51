import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from workers.engine import BatchEngine, SamplingParams
from workers.engine.kv_batch import PaddedKV, new_cache, prefill_inputs
from workers.engine.llama_decode import LlamaDecoder
from workers.engine.packed_linear import PackedLinear

from .conftest import chat


def prefilled(loaded, prompts):
    ids, mask, positions = prefill_inputs(prompts, loaded.tokenizer.pad_token_id or 0, loaded.device)
    cache = new_cache(loaded.model.config)
    loaded.model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True)
    return PaddedKV(cache=cache, mask=mask, next_positions=torch.tensor([len(p) for p in prompts]))


@pytest.mark.parametrize("rows", [1, 3, 9])
def test_a_step_gives_the_logits_and_cache_of_transformers_forward(tiny, rows):
    assert isinstance(tiny.model.model.layers[0].self_attn.q_proj, PackedLinear)  # the packed weights, as served
    decoder = LlamaDecoder.for_model(tiny.model, tiny.device)
    prompts = [chat(tiny, "word " * (3 * i + 1)) for i in range(rows)]  # different lengths: left padding
    tokens = torch.tensor([7 + i for i in range(rows)])
    with torch.inference_mode():
        theirs, ours = prefilled(tiny, prompts), prefilled(tiny, prompts)
        for _ in range(3):
            mask, positions = theirs.append_column()
            expected = tiny.model(
                input_ids=tokens[:, None], attention_mask=mask, position_ids=positions, cache=theirs.cache,
                use_cache=True,
            ).logits[:, -1]
            mask, positions = ours.append_column()
            logits = decoder.step(tokens, positions[:, 0], mask, ours.cache)
            torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)
            tokens = expected.argmax(dim=-1)
        for mine, reference in zip(ours.cache.layers, theirs.cache.layers, strict=True):
            torch.testing.assert_close(mine.keys, reference.keys, rtol=1e-4, atol=1e-4)
            torch.testing.assert_close(mine.values, reference.values, rtol=1e-4, atol=1e-4)


def test_it_runs_the_model_s_own_layers(tiny):
    decoder = LlamaDecoder.for_model(tiny.model, tiny.device)
    layer = tiny.model.model.layers[0]
    assert decoder.layers[0][1] is layer.self_attn and decoder.layers[0][3] is layer.mlp
    assert decoder.lm_head is tiny.model.lm_head


def test_other_models_decode_through_transformers(tiny):
    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=16, n_positions=32))
    assert LlamaDecoder.for_model(gpt2, torch.device("cpu")) is None
    assert LlamaDecoder.for_model(tiny.model, torch.device("cuda")) is None


def test_the_engine_writes_the_same_greedy_text_with_and_without_it(tiny):
    prompts = [chat(tiny, q) for q in ("Hi", "What is the capital of France?", "user " * 20, "Hello there")]
    params = SamplingParams(max_new_tokens=24, temperature=0)
    texts = {}
    for fast in (True, False):
        engine = BatchEngine(tiny, fast_decode=fast)
        try:
            assert (engine.decoder is not None) is fast
            texts[fast] = [c.text for c in engine.generate(prompts, params)]
        finally:
            engine.close()
    assert texts[True] == texts[False]
