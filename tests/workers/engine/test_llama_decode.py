import logging

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from workers.engine import BatchEngine, SamplingParams, llama_decode
from workers.engine.kv_batch import PaddedKV, new_cache, prefill_inputs
from workers.engine.llama_decode import DEFAULT_PACKED_ROWS, LlamaDecoder, choose_packing, mkl_packing_available

from .conftest import chat


def prefilled(loaded, prompts):
    ids, mask, positions = prefill_inputs(prompts, loaded.tokenizer.pad_token_id or 0, loaded.device)
    cache = new_cache(loaded.model.config)
    loaded.model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True)
    return PaddedKV(cache=cache, mask=mask, next_positions=torch.tensor([len(p) for p in prompts]))


@pytest.mark.parametrize("rows", [1, 3, 5, 9])  # alone, padded up to the packed rows, and in slices of them
def test_a_step_gives_the_logits_and_cache_of_transformers_forward(tiny, rows):
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


def test_it_packs_fp32_weights_once_and_pads_batches_to_multiples_of_the_packed_rows(tiny):
    if not mkl_packing_available():
        pytest.skip("this torch has no MKL")
    decoder = LlamaDecoder.for_model(tiny.model, tiny.device, packed_rows=8)
    assert [decoder.bucket(rows) for rows in (1, 2, 8, 9, 16)] == [1, 8, 8, 16, 16]
    qkv = decoder.layers[0][1]
    assert qkv.rows == 8 and qkv.packed is not None
    unpacked = LlamaDecoder.for_model(tiny.model, tiny.device, packed_rows=0)
    assert unpacked.bucket(5) == 5 and unpacked.layers[0][1].packed is None


def test_it_packs_a_model_only_when_its_weights_are_small_unless_told_otherwise():
    demo, large = 513.0, 4128.0  # SmolLM2-135M and a 1.1B Llama, float32
    assert choose_packing(weights_mb=demo, float32=True, rows_setting=None, max_mb=1024).rows == DEFAULT_PACKED_ROWS
    unpacked = choose_packing(weights_mb=large, float32=True, rows_setting=None, max_mb=1024)
    assert unpacked.rows == 0 and "4,128 MB > ARENA_PACKED_MAX_MB=1,024" in unpacked.reason
    assert choose_packing(weights_mb=1024, float32=True, rows_setting=None, max_mb=1024).rows == DEFAULT_PACKED_ROWS
    # ARENA_PACKED_ROWS, when set, decides whatever the size; 0 and 1 mean no packed copy.
    assert choose_packing(weights_mb=large, float32=True, rows_setting=16, max_mb=1024).rows == 16
    assert choose_packing(weights_mb=demo, float32=True, rows_setting=0, max_mb=1024).rows == 0
    assert choose_packing(weights_mb=demo, float32=True, rows_setting=1, max_mb=1024).rows == 0
    assert choose_packing(weights_mb=demo, float32=False, rows_setting=8, max_mb=1024).rows == 0


def test_it_logs_whether_and_why_the_weights_are_packed(tiny, caplog):
    if not mkl_packing_available():
        pytest.skip("this torch has no MKL")
    with caplog.at_level(logging.INFO, logger="workers.engine.llama_decode"):
        LlamaDecoder.for_model(tiny.model, tiny.device, packed_rows=None)
        LlamaDecoder.for_model(tiny.model, tiny.device, packed_rows=0)
    messages = [r.getMessage() for r in caplog.records if "CPU decoding step" in r.getMessage()]
    assert "MB <= ARENA_PACKED_MAX_MB" in messages[0] and "weights not packed (ARENA_PACKED_ROWS=0)" in messages[1]


def test_the_model_projections_share_the_fused_weights(tiny):
    decoder = LlamaDecoder.for_model(tiny.model, tiny.device)
    attn, mlp = tiny.model.model.layers[0].self_attn, tiny.model.model.layers[0].mlp
    qkv, gate_up = decoder.layers[0][1].weight, decoder.layers[0][4].weight
    assert attn.q_proj.weight.untyped_storage().data_ptr() == qkv.untyped_storage().data_ptr()
    assert attn.v_proj.weight.untyped_storage().data_ptr() == qkv.untyped_storage().data_ptr()
    assert mlp.up_proj.weight.untyped_storage().data_ptr() == gate_up.untyped_storage().data_ptr()


def test_a_failing_packed_operator_falls_back_loudly_with_the_same_text(tiny, monkeypatch, caplog):
    if not mkl_packing_available():
        pytest.skip("this torch has no MKL")
    prompts = [chat(tiny, q) for q in ("Hi", "What is the capital of France?", "user " * 20)]
    params = SamplingParams(max_new_tokens=16, temperature=0)
    reference = BatchEngine(tiny, fast_decode=False)
    try:
        expected = [c.text for c in reference.generate(prompts, params)]
    finally:
        reference.close()
    engine = BatchEngine(tiny)
    try:
        assert engine.decoder.packed_rows
        packed_product = llama_decode._mkl_linear
        calls = []

        def breaks_after_a_while(*args):
            calls.append(1)
            if len(calls) > 20:  # part-way through a step, after the batch has decoded a few tokens
                raise RuntimeError("mkl_linear: simulated failure of a private operator")
            return packed_product(*args)

        monkeypatch.setattr(llama_decode, "_mkl_linear", breaks_after_a_while)
        with caplog.at_level(logging.ERROR, logger="workers.engine.llama_decode"):
            texts = [c.text for c in engine.generate(prompts, params)]
        assert texts == expected
        assert engine.decoder.packed_rows == 0
        assert any("MKL packed GEMM failed during a decoding step" in r.getMessage()
                   and "simulated failure" in r.getMessage() for r in caplog.records)
    finally:
        engine.close()


def test_packing_that_disagrees_with_f_linear_is_refused_loudly(tiny, monkeypatch, caplog):
    if not mkl_packing_available():
        pytest.skip("this torch has no MKL")
    monkeypatch.setattr(llama_decode, "_mkl_linear", lambda x, packed, weight, bias, rows: torch.zeros(
        x.shape[0], weight.shape[0]))
    with caplog.at_level(logging.ERROR, logger="workers.engine.llama_decode"):
        decoder = LlamaDecoder.for_model(tiny.model, tiny.device, packed_rows=8)
    assert decoder.packed_rows == 0 and decoder.layers[0][1].packed is None
    assert any("MKL weight packing failed" in r.getMessage() for r in caplog.records)


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
